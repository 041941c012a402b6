"""Reads through Ringside's S3 API with a stock boto3, as a user would.

Run by tests/boto3.rs, which serves the API on a loopback port over an
in-memory source and passes, in environment variables, the endpoint
(RINGSIDE_S3_ENDPOINT) and a JSON manifest of the objects it holds
(RINGSIDE_S3_MANIFEST). Every expectation is derived from that manifest,
so the two sides cannot drift apart. Exits non-zero on the first failure.
"""

import json
import os
import sys
import tempfile
import urllib.request

import boto3
from boto3.s3.transfer import TransferConfig
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = os.environ["RINGSIDE_S3_ENDPOINT"]
with open(os.environ["RINGSIDE_S3_MANIFEST"], encoding="utf-8") as f:
    MANIFEST = json.load(f)

BUCKET = MANIFEST["bucket"]


def content(spec):
    if "hex" in spec:
        return bytes.fromhex(spec["hex"])
    # Large objects: byte i is i % 251 (a prime, so no power-of-two
    # chunking lines up with the pattern).
    size = spec["size"]
    period = bytes(range(251))
    return (period * (size // 251 + 1))[:size]


OBJECTS = {key: content(spec) for key, spec in MANIFEST["objects"].items()}
KEYS = sorted(OBJECTS, key=lambda k: k.encode("utf-8"))

checks = 0


def check(condition, what, detail=""):
    global checks
    checks += 1
    if not condition:
        raise AssertionError(f"{what}: {detail}")


def expect_error(call, code, status, what):
    try:
        call()
    except ClientError as err:
        got_code = err.response["Error"]["Code"]
        got_status = err.response["ResponseMetadata"]["HTTPStatusCode"]
        check(got_code == code and got_status == status, what,
              f"expected {code}/{status}, got {got_code}/{got_status}")
        return err
    raise AssertionError(f"{what}: expected {code}, the call succeeded")


def client(**config):
    return boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="AKIDRINGSIDETEST",
        aws_secret_access_key="dummy-secret",
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1, "mode": "standard"},
            connect_timeout=10,
            read_timeout=30,
            **config,
        ),
    )


def expected_listing(prefix, delimiter):
    contents, prefixes = [], []
    for key in KEYS:
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix):]
        if delimiter and delimiter in rest:
            common = prefix + rest[: rest.index(delimiter) + len(delimiter)]
            if common not in prefixes:
                prefixes.append(common)
        else:
            contents.append(key)
    return contents, prefixes


def main():
    s3 = client()

    # ListBuckets
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    check(names == sorted(MANIFEST["buckets"]), "list_buckets", names)

    # HeadBucket, and a missing bucket
    s3.head_bucket(Bucket=BUCKET)
    expect_error(lambda: s3.head_bucket(Bucket="no-such-bucket"), "404", 404,
                 "head_bucket of a missing bucket")
    expect_error(lambda: s3.list_objects_v2(Bucket="no-such-bucket"), "NoSuchBucket", 404,
                 "list_objects_v2 of a missing bucket")

    # ListObjectsV2 of everything: boto3 asks for encoding-type=url and
    # decodes, so odd keys exercise both sides.
    listed = s3.list_objects_v2(Bucket=BUCKET)
    got = [o["Key"] for o in listed["Contents"]]
    check(got == KEYS, "list_objects_v2 keys", got)
    check(listed["KeyCount"] == len(KEYS), "KeyCount", listed["KeyCount"])
    check(listed["IsTruncated"] is False, "IsTruncated", listed)
    sizes = {o["Key"]: o["Size"] for o in listed["Contents"]}
    check(all(sizes[k] == len(OBJECTS[k]) for k in KEYS), "listed sizes", sizes)

    # Prefix and delimiter
    for prefix, delimiter in [("", "/"), ("photos/", "/"), ("photos/2024/", "/"), ("ph", ""), ("nope/", "/")]:
        page = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix, Delimiter=delimiter)
        contents = [o["Key"] for o in page.get("Contents", [])]
        prefixes = [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        want = expected_listing(prefix, delimiter)
        check((contents, prefixes) == want, f"listing prefix={prefix!r} delimiter={delimiter!r}",
              f"got {(contents, prefixes)}, want {want}")

    # Pagination: MaxKeys=2 across the five keys under pages/
    page_keys = [k for k in KEYS if k.startswith("pages/")]
    check(len(page_keys) == 5, "fixture has five keys under pages/", page_keys)
    pages, token = [], None
    while True:
        kwargs = {"Bucket": BUCKET, "Prefix": "pages/", "MaxKeys": 2}
        if token:
            kwargs["ContinuationToken"] = token
        page = s3.list_objects_v2(**kwargs)
        pages.append([o["Key"] for o in page.get("Contents", [])])
        check(page["KeyCount"] == len(pages[-1]), "KeyCount per page", page["KeyCount"])
        check(page["MaxKeys"] == 2, "MaxKeys echoed", page["MaxKeys"])
        if not page["IsTruncated"]:
            check("NextContinuationToken" not in page, "no token on the last page", page)
            break
        token = page["NextContinuationToken"]
        check(len(pages) < 10, "pagination ends", pages)
    check(pages == [page_keys[0:2], page_keys[2:4], page_keys[4:5]], "pages of two", pages)

    # The same through boto3's paginator, and StartAfter
    paginator = s3.get_paginator("list_objects_v2")
    flat = [o["Key"] for p in paginator.paginate(Bucket=BUCKET, PaginationConfig={"PageSize": 2})
            for o in p.get("Contents", [])]
    check(flat == KEYS, "paginator over everything", flat)
    after = s3.list_objects_v2(Bucket=BUCKET, Prefix="pages/", StartAfter=page_keys[2])
    check([o["Key"] for o in after["Contents"]] == page_keys[3:], "StartAfter", after)

    # Delimiter pagination resumes after common prefixes without repeats
    seen_prefixes, seen_keys = [], []
    for p in paginator.paginate(Bucket=BUCKET, Delimiter="/", PaginationConfig={"PageSize": 1}):
        seen_prefixes += [c["Prefix"] for c in p.get("CommonPrefixes", [])]
        seen_keys += [o["Key"] for o in p.get("Contents", [])]
    check((seen_keys, seen_prefixes) == expected_listing("", "/"), "delimited pages of one",
          (seen_keys, seen_prefixes))

    # ListObjects (V1) with markers
    v1 = s3.get_paginator("list_objects")
    flat = [o["Key"] for p in v1.paginate(Bucket=BUCKET, PaginationConfig={"PageSize": 2})
            for o in p.get("Contents", [])]
    check(flat == KEYS, "list_objects (V1) paginator", flat)

    # HeadObject and GetObject, every key, bytes compared exactly
    for key in KEYS:
        data = OBJECTS[key]
        head = s3.head_object(Bucket=BUCKET, Key=key)
        check(head["ContentLength"] == len(data), f"head_object length of {key!r}", head)
        check(head["ContentType"] == "application/octet-stream", "content type", head)
        check(head["ETag"].startswith('"') and head["ETag"].endswith('"'), "quoted ETag", head["ETag"])
        check(head["AcceptRanges"] == "bytes", "Accept-Ranges", head)
        check(head["LastModified"].year >= 2024, "Last-Modified", head)
        check(len(head["ResponseMetadata"]["RequestId"]) == 16, "x-amz-request-id", head)
        got = s3.get_object(Bucket=BUCKET, Key=key)
        body = got["Body"].read()
        check(body == data, f"get_object bytes of {key!r}", f"{len(body)} vs {len(data)} bytes")
        check(got["ETag"] == head["ETag"], "same ETag on GET and HEAD", got["ETag"])

    # Ranges
    key = "photos/2024/beach day.jpg"
    data = OBJECTS[key]
    size = len(data)
    for header, start, end in [("bytes=2-5", 2, 6), ("bytes=10-", 10, size), ("bytes=-7", size - 7, size),
                               (f"bytes=0-{size * 2}", 0, size)]:
        got = s3.get_object(Bucket=BUCKET, Key=key, Range=header)
        check(got["ResponseMetadata"]["HTTPStatusCode"] == 206, f"206 for {header}", got["ResponseMetadata"])
        check(got["ContentRange"] == f"bytes {start}-{end - 1}/{size}", f"Content-Range for {header}",
              got["ContentRange"])
        check(got["ContentLength"] == end - start, f"Content-Length for {header}", got["ContentLength"])
        check(got["Body"].read() == data[start:end], f"bytes of {header}")
    err = expect_error(lambda: s3.get_object(Bucket=BUCKET, Key=key, Range=f"bytes={size}-"),
                       "InvalidRange", 416, "range past the end")
    check(err.response["ResponseMetadata"]["HTTPHeaders"].get("content-range") == f"bytes */{size}",
          "416 Content-Range", err.response["ResponseMetadata"]["HTTPHeaders"])
    multi = s3.get_object(Bucket=BUCKET, Key=key, Range="bytes=0-1,4-5")
    check(multi["ResponseMetadata"]["HTTPStatusCode"] == 200 and multi["Body"].read() == data,
          "multi-range ignored: whole object")
    head = s3.head_object(Bucket=BUCKET, Key=key, Range="bytes=0-9")
    check(head["ContentLength"] == 10 and head["ContentRange"] == f"bytes 0-9/{size}", "HEAD with Range", head)

    # Missing keys
    expect_error(lambda: s3.get_object(Bucket=BUCKET, Key="no/such key"), "NoSuchKey", 404, "missing key")
    expect_error(lambda: s3.head_object(Bucket=BUCKET, Key="no/such key"), "404", 404, "HEAD of a missing key")
    expect_error(lambda: s3.get_object(Bucket="no-such-bucket", Key="k"), "NoSuchBucket", 404, "missing bucket")

    # Conditional requests
    etag = s3.head_object(Bucket=BUCKET, Key=key)["ETag"]
    got = s3.get_object(Bucket=BUCKET, Key=key, IfMatch=etag)
    check(got["Body"].read() == data, "If-Match with the current ETag")
    expect_error(lambda: s3.get_object(Bucket=BUCKET, Key=key, IfMatch='"stale"'),
                 "PreconditionFailed", 412, "If-Match with a stale ETag")
    expect_error(lambda: s3.get_object(Bucket=BUCKET, Key=key, IfNoneMatch=etag),
                 "304", 304, "If-None-Match with the current ETag")

    # Writes are refused: the API is read-only
    err = expect_error(lambda: s3.put_object(Bucket=BUCKET, Key="new", Body=b"x"),
                       "MethodNotAllowed", 405, "put_object")
    check("read-only" in err.response["Error"]["Message"], "405 says read-only", err.response["Error"])
    expect_error(lambda: s3.delete_object(Bucket=BUCKET, Key=KEYS[0]), "MethodNotAllowed", 405, "delete_object")

    # Path traversal
    expect_error(lambda: s3.get_object(Bucket=BUCKET, Key="a/../../etc/passwd"),
                 "InvalidArgument", 400, "'..' in a key")

    # Unsigned requests read too
    anon = client(signature_version=UNSIGNED)
    check(anon.get_object(Bucket=BUCKET, Key=KEYS[0])["Body"].read() == OBJECTS[KEYS[0]], "unsigned GET")

    # A presigned URL fetched by a plain HTTP client
    url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=60)
    with urllib.request.urlopen(url, timeout=30) as response:
        check(response.read() == data, "presigned URL via urllib")

    # A multipart download: s3transfer splits the large object into ranged
    # GETs pinned with If-Match, in parallel.
    big = MANIFEST["big"]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "big")
        config = TransferConfig(multipart_threshold=1024 * 1024, multipart_chunksize=1024 * 1024, max_concurrency=4)
        s3.download_file(BUCKET, big, path, Config=config)
        with open(path, "rb") as f:
            check(f.read() == OBJECTS[big], "download_file of the large object")

    print(f"boto3 {boto3.__version__}: {checks} checks passed")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as err:
        print(f"FAILED: {err}", file=sys.stderr)
        sys.exit(1)
