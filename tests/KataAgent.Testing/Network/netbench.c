/*
 * netbench: the network benchmark's traffic (docs/BENCHMARKS.md, "Pod networking").
 *
 * One static program for both ends, so that the pod without a VM and the container in the VM run
 * exactly the same server, and the node runs the same client against both:
 *
 *   netbench serve PORT                        listen on 0.0.0.0:PORT, one thread per connection
 *   netbench client ADDR PORT wait SECONDS     retry one request-response exchange until it succeeds
 *   netbench client ADDR PORT upload BYTES     send BYTES, then wait for the server's count of them
 *   netbench client ADDR PORT download BYTES   ask for BYTES and read them to the last one
 *   netbench client ADDR PORT rr COUNT         COUNT 1-byte request-responses on one connection
 *   netbench client ADDR PORT crr COUNT        COUNT connections, each one 1-byte request-response
 *
 * The client prints the measured time: "SECONDS" for upload and download (from connected to the
 * last byte accounted for), one line of microseconds per exchange for rr and crr. The first byte
 * of a connection picks what the server does: 'U' read to EOF and answer with the byte count (8
 * bytes, big-endian), 'D' read an 8-byte count and send that many bytes, 'R' echo every byte.
 * rr and crr are netperf's TCP_RR and TCP_CRR with 1-byte messages and TCP_NODELAY.
 *
 * Built at run time (StaticProgram, for the bench and the test that checks it):
 * gcc -static -O2 -o netbench netbench.c (glibc static: it runs in the busybox rootfs, which has no libraries).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUFFER_BYTES (256 * 1024)

/* The client's buffer; each server thread has its own. Contents do not matter, only the count. */
static char buffer[BUFFER_BYTES];

static void die(const char *what)
{
    fprintf(stderr, "netbench: %s: %s\n", what, strerror(errno));
    exit(1);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int read_full(int fd, void *data, size_t length)
{
    size_t done = 0;
    while (done < length) {
        ssize_t n = read(fd, (char *)data + done, length - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

static int write_full(int fd, const void *data, size_t length)
{
    size_t done = 0;
    while (done < length) {
        ssize_t n = write(fd, (const char *)data + done, length - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

static void put_u64(unsigned char *out, uint64_t value)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (unsigned char)(value & 0xff);
        value >>= 8;
    }
}

static uint64_t get_u64(const unsigned char *in)
{
    uint64_t value = 0;
    for (int i = 0; i < 8; i++)
        value = (value << 8) | in[i];
    return value;
}

static void no_delay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* One connection, served by its own thread (a thread rather than a fork: under TCG a fork per
 * connection would cost more than the network path crr measures). */
static void serve_connection(int fd, char *scratch)
{
    unsigned char mode;
    unsigned char word[8];
    if (read_full(fd, &mode, 1) < 0)
        return;
    switch (mode) {
    case 'U': {
        uint64_t total = 0;
        ssize_t n;
        while ((n = read(fd, scratch, BUFFER_BYTES)) != 0) {
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return;
            total += (uint64_t)n;
        }
        put_u64(word, total);
        write_full(fd, word, sizeof word);
        return;
    }
    case 'D': {
        if (read_full(fd, word, sizeof word) < 0)
            return;
        uint64_t left = get_u64(word);
        while (left > 0) {
            size_t chunk = left < BUFFER_BYTES ? (size_t)left : BUFFER_BYTES;
            if (write_full(fd, scratch, chunk) < 0)
                return;
            left -= chunk;
        }
        return;
    }
    case 'R': {
        no_delay(fd);
        unsigned char byte;
        while (read_full(fd, &byte, 1) == 0) {
            if (write_full(fd, &byte, 1) < 0)
                return;
        }
        return;
    }
    default:
        fprintf(stderr, "netbench: unknown mode byte 0x%02x\n", mode);
    }
}

static void *connection_thread(void *argument)
{
    int fd = (int)(intptr_t)argument;
    char *own = malloc(BUFFER_BYTES);
    if (own != NULL)
        serve_connection(fd, own);
    free(own);
    close(fd);
    return NULL;
}

static _Noreturn void serve(int port)
{
    /* A client going away must not kill the server. */
    signal(SIGPIPE, SIG_IGN);
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener < 0)
        die("socket");
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_ANY) };
    if (bind(listener, (struct sockaddr *)&address, sizeof address) < 0)
        die("bind");
    if (listen(listener, 128) < 0)
        die("listen");
    fprintf(stderr, "netbench: serving on port %d\n", port);
    for (;;) {
        int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            die("accept");
        }
        pthread_t thread;
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        int error = pthread_create(&thread, &attributes, connection_thread, (void *)(intptr_t)fd);
        pthread_attr_destroy(&attributes);
        if (error != 0) {
            fprintf(stderr, "netbench: pthread_create: %s\n", strerror(error));
            close(fd);
        }
    }
}

static struct sockaddr_in server_address;

/* A connected socket, or -1 when timeout_seconds > 0 and the attempt failed. */
static int connect_server(int timeout_seconds)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    if (timeout_seconds > 0) {
        /* Bounds connect(2) too: Linux applies SO_SNDTIMEO to it. */
        struct timeval limit = { .tv_sec = timeout_seconds };
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    }
    if (connect(fd, (struct sockaddr *)&server_address, sizeof server_address) < 0) {
        if (timeout_seconds > 0) {
            close(fd);
            return -1;
        }
        die("connect");
    }
    return fd;
}

/* One 1-byte exchange on an 'R' connection; 0 on success. */
static int exchange(int fd)
{
    unsigned char byte = 'x';
    if (write_full(fd, &byte, 1) < 0 || read_full(fd, &byte, 1) < 0 || byte != 'x')
        return -1;
    return 0;
}

/* Connected, 'R' sent, one exchange done: the whole path to the server's process works. */
static int try_request(int timeout_seconds)
{
    int fd = connect_server(timeout_seconds);
    if (fd < 0)
        return -1;
    no_delay(fd);
    unsigned char mode = 'R';
    int result = write_full(fd, &mode, 1) < 0 ? -1 : exchange(fd);
    close(fd);
    return result;
}

static int client_wait(int seconds)
{
    double deadline = now_seconds() + seconds;
    while (try_request(2) < 0) {
        if (now_seconds() > deadline) {
            fprintf(stderr, "netbench: no answer within %d s\n", seconds);
            return 1;
        }
        usleep(200 * 1000);
    }
    return 0;
}

static int client_upload(uint64_t bytes)
{
    int fd = connect_server(0);
    double start = now_seconds();
    unsigned char mode = 'U';
    if (write_full(fd, &mode, 1) < 0)
        die("write");
    uint64_t left = bytes;
    while (left > 0) {
        size_t chunk = left < sizeof buffer ? (size_t)left : sizeof buffer;
        if (write_full(fd, buffer, chunk) < 0)
            die("write");
        left -= chunk;
    }
    shutdown(fd, SHUT_WR);
    unsigned char word[8];
    if (read_full(fd, word, sizeof word) < 0)
        die("read the server's count");
    double seconds = now_seconds() - start;
    if (get_u64(word) != bytes) {
        fprintf(stderr, "netbench: sent %llu bytes, the server counted %llu\n", (unsigned long long)bytes, (unsigned long long)get_u64(word));
        return 1;
    }
    printf("%.6f\n", seconds);
    return 0;
}

static int client_download(uint64_t bytes)
{
    int fd = connect_server(0);
    double start = now_seconds();
    unsigned char request[9] = { 'D' };
    put_u64(request + 1, bytes);
    if (write_full(fd, request, sizeof request) < 0)
        die("write");
    uint64_t received = 0;
    ssize_t n;
    while ((n = read(fd, buffer, sizeof buffer)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("read");
        received += (uint64_t)n;
    }
    double seconds = now_seconds() - start;
    if (received != bytes) {
        fprintf(stderr, "netbench: asked for %llu bytes, got %llu\n", (unsigned long long)bytes, (unsigned long long)received);
        return 1;
    }
    printf("%.6f\n", seconds);
    return 0;
}

static int client_rr(long count)
{
    int fd = connect_server(0);
    no_delay(fd);
    unsigned char mode = 'R';
    if (write_full(fd, &mode, 1) < 0)
        die("write");
    for (long i = 0; i < count; i++) {
        double start = now_seconds();
        if (exchange(fd) < 0)
            die("exchange");
        printf("%.1f\n", (now_seconds() - start) * 1e6);
    }
    return 0;
}

static int client_crr(long count)
{
    for (long i = 0; i < count; i++) {
        double start = now_seconds();
        int fd = connect_server(0);
        no_delay(fd);
        unsigned char mode = 'R';
        if (write_full(fd, &mode, 1) < 0 || exchange(fd) < 0)
            die("exchange");
        close(fd);
        printf("%.1f\n", (now_seconds() - start) * 1e6);
    }
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: netbench serve PORT | netbench client ADDR PORT (wait SECONDS | upload BYTES | download BYTES | rr COUNT | crr COUNT)\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "serve") == 0)
        serve(atoi(argv[2]));
    if (argc != 6 || strcmp(argv[1], "client") != 0)
        usage();
    server_address.sin_family = AF_INET;
    server_address.sin_port = htons((uint16_t)atoi(argv[3]));
    if (inet_pton(AF_INET, argv[2], &server_address.sin_addr) != 1)
        usage();
    signal(SIGPIPE, SIG_IGN);
    const char *what = argv[4];
    unsigned long long value = strtoull(argv[5], NULL, 10);
    if (strcmp(what, "wait") == 0)
        return client_wait((int)value);
    if (strcmp(what, "upload") == 0)
        return client_upload(value);
    if (strcmp(what, "download") == 0)
        return client_download(value);
    if (strcmp(what, "rr") == 0)
        return client_rr((long)value);
    if (strcmp(what, "crr") == 0)
        return client_crr((long)value);
    usage();
    return 2;
}
