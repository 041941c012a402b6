/*
 * About the fastest an HTTP answer can stream a file over loopback TCP on
 * this machine: the limit side of bench/data-plane.sh.
 *
 *     loopback-limit PORT FILE
 *
 * Answers every connection's request, whatever it asks, with FILE: a
 * response header, then FILE read 1 MiB at a time with read(2) and written
 * to the socket with blocking write(2), on one thread, with the kernel
 * asked (POSIX_FADV_WILLNEED) to read AHEAD MiB ahead so that a cold file's
 * disk reads overlap the sending. Nothing else: no parsing, no cache, no
 * checksum, one connection at a time. On these machines this loop outran
 * sendfile(2), and a second thread reading ahead (docs/benchmarks.md,
 * run J).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK (1 << 20)
#define AHEAD 8

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

static void answer(int conn, const char *path, char *buf) {
    char request[8192];
    if (read(conn, request, sizeof request) <= 0)
        return;
    int file = open(path, O_RDONLY);
    struct stat st;
    if (file < 0 || fstat(file, &st) != 0) {
        perror(path);
        exit(1);
    }
    char header[256];
    int len = snprintf(header, sizeof header,
                       "HTTP/1.1 200 OK\r\nContent-Length: %lld\r\nConnection: close\r\n\r\n",
                       (long long)st.st_size);
    posix_fadvise(file, 0, (off_t)AHEAD * CHUNK, POSIX_FADV_WILLNEED);
    if (write_all(conn, header, len) == 0) {
        off_t at = 0;
        ssize_t n;
        while ((n = read(file, buf, CHUNK)) > 0) {
            at += n;
            posix_fadvise(file, at + (off_t)(AHEAD - 1) * CHUNK, CHUNK, POSIX_FADV_WILLNEED);
            if (write_all(conn, buf, n) != 0)
                break;
        }
    }
    close(file);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: loopback-limit PORT FILE\n");
        return 2;
    }
    /* A client that hangs up mid-answer ends that answer, not the server. */
    signal(SIGPIPE, SIG_IGN);
    int server = socket(AF_INET, SOCK_STREAM, 0);
    char *buf = malloc(CHUNK);
    if (server < 0 || buf == NULL) {
        perror("loopback-limit");
        return 1;
    }
    int one = 1;
    setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(server, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(server, 16) != 0) {
        perror("listen");
        return 1;
    }
    for (;;) {
        int conn = accept(server, NULL, NULL);
        if (conn < 0)
            continue;
        answer(conn, argv[2], buf);
        close(conn);
    }
}
