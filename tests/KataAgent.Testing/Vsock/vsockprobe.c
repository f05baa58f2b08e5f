/*
 * vsockprobe: the vsock VM tests' guest-side tool, one static binary (the guest's busybox has no vsock client).
 *
 *   vsockprobe pattern BYTES      write BYTES bytes of a position pattern to stdout: the 8-byte little-endian word
 *                                 at offset 8*i is i ^ 0x5a5a5a5a5a5a5a5a, so the reader can check every byte by
 *                                 its position (a lost, repeated or reordered chunk cannot go unnoticed)
 *   vsockprobe connect PORT TEXT  connect to the host (CID 2) on vsock PORT, send TEXT and a newline, print the
 *                                 reply line; exit 0 on a reply, 1 on any failure (with the reason on stderr)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

static int write_all(int fd, const char *data, size_t length)
{
    while (length > 0) {
        ssize_t n = write(fd, data, length);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        data += n;
        length -= (size_t)n;
    }
    return 0;
}

static int pattern(unsigned long long bytes)
{
    static uint64_t block[16384];
    unsigned long long word = 0, written = 0;
    while (written < bytes) {
        for (size_t i = 0; i < sizeof block / sizeof block[0]; i++)
            block[i] = (word + i) ^ 0x5a5a5a5a5a5a5a5aULL;
        size_t chunk = sizeof block;
        if (bytes - written < chunk)
            chunk = (size_t)(bytes - written);
        if (write_all(1, (const char *)block, chunk) != 0) {
            perror("vsockprobe: write");
            return 1;
        }
        written += chunk;
        word += sizeof block / sizeof block[0];
    }
    return 0;
}

static int connect_host(unsigned int port, const char *text)
{
    int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("vsockprobe: socket(AF_VSOCK)");
        return 1;
    }
    struct sockaddr_vm address;
    memset(&address, 0, sizeof address);
    address.svm_family = AF_VSOCK;
    address.svm_cid = VMADDR_CID_HOST;
    address.svm_port = port;
    if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) {
        perror("vsockprobe: connect(CID 2)");
        return 1;
    }
    if (write_all(fd, text, strlen(text)) != 0 || write_all(fd, "\n", 1) != 0) {
        perror("vsockprobe: send");
        return 1;
    }
    char reply[4096];
    size_t got = 0;
    while (got < sizeof reply - 1) {
        ssize_t n = read(fd, reply + got, sizeof reply - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
        if (memchr(reply, '\n', got))
            break;
    }
    if (got == 0) {
        fprintf(stderr, "vsockprobe: the host closed the connection without a reply\n");
        return 1;
    }
    reply[got] = '\0';
    fputs(reply, stdout);
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "pattern") == 0)
        return pattern(strtoull(argv[2], NULL, 10));
    if (argc == 4 && strcmp(argv[1], "connect") == 0)
        return connect_host((unsigned int)strtoul(argv[2], NULL, 10), argv[3]);
    fprintf(stderr, "usage: vsockprobe pattern BYTES | vsockprobe connect PORT TEXT\n");
    return 2;
}
