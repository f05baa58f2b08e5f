/*
 * floor-init: the boot benchmark's floor (docs/BENCHMARKS.md, "VM boot").
 *
 * PID 1 of an initrd that does only what any in-guest agent must do before the host can hear from
 * it: mount devtmpfs and sysfs, load the virtio modules the agent channel needs (the same
 * kataagent.modules list format and the same module files as the agent's image, written by our
 * InitrdBuilder), find the virtio-serial port named agent.channel.0, and write "ready\n" to it.
 * Everything the real agent does beyond this (the .NET runtime starting, Kestrel, HTTP/2, gRPC,
 * the other mounts and modules) is what boot-to-ready costs over this floor.
 *
 * After "ready" (so outside the measured time) it mounts /proc and writes one more line: the guest's
 * uptime (how much of the host-measured time the kernel itself saw; the rest is qemu and firmware)
 * and MemTotal and MemAvailable, the memory baseline without the agent. Then it sleeps forever:
 * PID 1 exiting would panic the kernel. On any failure it says why on the console and powers the
 * VM off, so the host sees qemu exit at once instead of waiting for a timeout.
 *
 * Built at run time (StaticProgram, for the bench and the test that checks it):
 * gcc -static -Os -o floor-init floor-init.c (glibc static).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define PORT_NAME "agent.channel.0"
/* The port appears asynchronously after virtio_console probes (qemu announces its ports over
 * the control queue), and its /dev node after that (devtmpfs): poll for up to ~30 s under TCG. */
#define POLL_INTERVAL_NS (1000 * 1000)
#define POLL_LIMIT 30000

/* Writes to the serial console (fd 2 is /dev/console for PID 1). */
static void say(const char *format, ...)
{
    char line[512];
    va_list args;
    va_start(args, format);
    int n = vsnprintf(line, sizeof line, format, args);
    va_end(args);
    if (n > 0)
        write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static void sleep_forever(void)
{
    for (;;)
        pause();
}

/* Fatal: tell the console, then power off (never exit: that would panic the kernel). */
static void fail(const char *what)
{
    say("floor-init: %s: %s\n", what, strerror(errno));
    sync();
    reboot(RB_POWER_OFF);
    sleep_forever();
}

static void nap(void)
{
    struct timespec interval = {0, POLL_INTERVAL_NS};
    nanosleep(&interval, NULL);
}

/* Loads every module of /lib/modules/KVER/kataagent.modules (absolute paths, in load order). */
static void load_modules(void)
{
    struct utsname kernel;
    if (uname(&kernel) != 0)
        fail("uname");
    char list_path[512];
    snprintf(list_path, sizeof list_path, "/lib/modules/%s/kataagent.modules", kernel.release);
    FILE *list = fopen(list_path, "r");
    if (list == NULL)
        fail(list_path);
    char module[512];
    while (fgets(module, sizeof module, list) != NULL) {
        module[strcspn(module, "\n")] = '\0';
        if (module[0] == '\0')
            continue;
        int fd = open(module, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            fail(module);
        /* EEXIST: already loaded (or built in), which is what we want anyway. */
        if (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST)
            fail(module);
        close(fd);
    }
    fclose(list);
}

/* Finds the port by its name in /sys/class/virtio-ports/ and copies "/dev/vportNpM" into device. */
static int find_port(char *device, size_t size)
{
    DIR *ports = opendir("/sys/class/virtio-ports");
    if (ports == NULL)
        return 0;
    struct dirent *entry;
    int found = 0;
    while (!found && (entry = readdir(ports)) != NULL) {
        if (entry->d_name[0] == '.')
            continue;
        char name_path[512], name[64] = "";
        snprintf(name_path, sizeof name_path, "/sys/class/virtio-ports/%s/name", entry->d_name);
        int fd = open(name_path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, name, sizeof name - 1);
        close(fd);
        if (n > 0) {
            name[n] = '\0';
            name[strcspn(name, "\n")] = '\0';
            if (strcmp(name, PORT_NAME) == 0) {
                snprintf(device, size, "/dev/%s", entry->d_name);
                found = 1;
            }
        }
    }
    closedir(ports);
    return found;
}

/* Opens the agent channel once the port and its device node exist. */
static int open_port(void)
{
    char device[300];
    for (int i = 0; i < POLL_LIMIT; i++) {
        if (find_port(device, sizeof device)) {
            int fd = open(device, O_WRONLY | O_CLOEXEC);
            if (fd >= 0)
                return fd;
            if (errno != ENOENT)
                fail(device);
        }
        nap();
    }
    errno = ETIMEDOUT;
    fail("no virtio-serial port named " PORT_NAME);
    return -1;
}

static void write_all(int fd, const char *text)
{
    size_t length = strlen(text);
    while (length > 0) {
        /* Blocks until the host end of the chardev is connected: the host connects first. */
        ssize_t n = write(fd, text, length);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fail("write to " PORT_NAME);
        }
        text += n;
        length -= (size_t)n;
    }
}

/* "floor UptimeMs=N MemTotal=N MemAvailable=N" (kB), from /proc/uptime and /proc/meminfo. */
static void report_guest(int port)
{
    if (mount("proc", "/proc", "proc", 0, NULL) != 0)
        fail("mount /proc");
    /* Uptime first: it is read as close to "ready" as this can be. */
    FILE *uptime = fopen("/proc/uptime", "r");
    if (uptime == NULL)
        fail("/proc/uptime");
    double seconds = -1;
    if (fscanf(uptime, "%lf", &seconds) != 1)
        seconds = -1;
    fclose(uptime);
    FILE *meminfo = fopen("/proc/meminfo", "r");
    if (meminfo == NULL)
        fail("/proc/meminfo");
    char line[256];
    long total = -1, available = -1;
    while (fgets(line, sizeof line, meminfo) != NULL) {
        sscanf(line, "MemTotal: %ld kB", &total);
        sscanf(line, "MemAvailable: %ld kB", &available);
    }
    fclose(meminfo);
    char report[160];
    snprintf(report, sizeof report, "floor UptimeMs=%ld MemTotal=%ld MemAvailable=%ld\n", (long)(seconds * 1000), total, available);
    write_all(port, report);
}

int main(void)
{
    /* The initrd has an empty /dev (plus /dev/console): the vport nodes come from devtmpfs. */
    if (mount("devtmpfs", "/dev", "devtmpfs", 0, NULL) != 0 && errno != EBUSY)
        fail("mount /dev");
    if (mount("sysfs", "/sys", "sysfs", 0, NULL) != 0)
        fail("mount /sys");
    load_modules();
    int port = open_port();
    write_all(port, "ready\n");
    report_guest(port);
    sleep_forever();
}
