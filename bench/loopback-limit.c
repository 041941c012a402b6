/*
 * The fastest an HTTP answer can stream a file over loopback TCP on this
 * machine: the limit side of bench/data-plane.sh.
 *
 *     loopback-limit PORT FILE
 *
 * Answers every connection's request, whatever it asks, with FILE: a
 * response header, then FILE in 1 MiB chunks written to the socket with
 * blocking write(2). A second thread reads the chunks with read(2) up to
 * RING ahead of the writer, so reading the disk and sending overlap as the
 * worker's fetches in flight do. Nothing else: no parsing, no cache, no
 * checksum, one connection at a time. On these machines read/write outruns
 * sendfile(2) over loopback (docs/benchmarks.md, run J).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK (1 << 20)
#define RING 16

/* Chunks [sent, read) are filled and not yet sent; the reader waits while
 * RING are, the writer while none is. len < 0 marks the end. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    char *buf[RING];
    ssize_t len[RING];
    long read, sent;
    int file, stop;
} ring = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};

static void *reader(void *unused) {
    (void)unused;
    for (;;) {
        pthread_mutex_lock(&ring.lock);
        while (ring.read - ring.sent == RING && !ring.stop)
            pthread_cond_wait(&ring.changed, &ring.lock);
        int stop = ring.stop;
        pthread_mutex_unlock(&ring.lock);
        if (stop)
            return NULL;
        int slot = ring.read % RING;
        ssize_t n = read(ring.file, ring.buf[slot], CHUNK);
        pthread_mutex_lock(&ring.lock);
        ring.len[slot] = n > 0 ? n : -1;
        ring.read++;
        pthread_cond_broadcast(&ring.changed);
        pthread_mutex_unlock(&ring.lock);
        if (n <= 0)
            return NULL;
    }
}

static int write_all(int fd, const char *buf, ssize_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n <= 0)
            return -1;
        buf += n;
        len -= n;
    }
    return 0;
}

static void answer(int conn, const char *path) {
    char request[8192];
    if (read(conn, request, sizeof request) <= 0)
        return;
    struct stat st;
    ring.file = open(path, O_RDONLY);
    if (ring.file < 0 || fstat(ring.file, &st) != 0) {
        perror(path);
        exit(1);
    }
    char header[256];
    int len = snprintf(header, sizeof header,
                       "HTTP/1.1 200 OK\r\nContent-Length: %lld\r\nConnection: close\r\n\r\n",
                       (long long)st.st_size);
    ring.read = ring.sent = ring.stop = 0;
    pthread_t thread;
    pthread_create(&thread, NULL, reader, NULL);
    int ok = write_all(conn, header, len) == 0;
    while (ok) {
        pthread_mutex_lock(&ring.lock);
        while (ring.read == ring.sent)
            pthread_cond_wait(&ring.changed, &ring.lock);
        int slot = ring.sent % RING;
        ssize_t n = ring.len[slot];
        pthread_mutex_unlock(&ring.lock);
        if (n < 0 || write_all(conn, ring.buf[slot], n) != 0)
            break;
        pthread_mutex_lock(&ring.lock);
        ring.sent++;
        pthread_cond_broadcast(&ring.changed);
        pthread_mutex_unlock(&ring.lock);
    }
    pthread_mutex_lock(&ring.lock);
    ring.stop = 1;
    pthread_cond_broadcast(&ring.changed);
    pthread_mutex_unlock(&ring.lock);
    pthread_join(thread, NULL);
    close(ring.file);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: loopback-limit PORT FILE\n");
        return 2;
    }
    int server = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(server, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(server, 16) != 0) {
        perror("listen");
        return 1;
    }
    for (int i = 0; i < RING; i++)
        ring.buf[i] = malloc(CHUNK);
    for (;;) {
        int conn = accept(server, NULL, NULL);
        if (conn < 0)
            continue;
        answer(conn, argv[2]);
        close(conn);
    }
}
