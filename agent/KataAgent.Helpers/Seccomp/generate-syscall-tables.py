#!/usr/bin/env python3
"""Regenerates SyscallTable{X86_64,X32,I386,Aarch64}.cs, the seccomp compiler's syscall name -> number tables.

Source: the kernel's uapi headers as Debian's linux-libc-dev installs them (Linux 6.1 in Debian 12):
  x86_64  /usr/include/x86_64-linux-gnu/asm/unistd_64.h   (syscall_64.tbl, abis "common" and "64")
  x32     /usr/include/x86_64-linux-gnu/asm/unistd_x32.h  (syscall_64.tbl, abis "common" and "x32", + bit 30)
  i386    /usr/include/x86_64-linux-gnu/asm/unistd_32.h   (syscall_32.tbl)
  aarch64 /usr/include/asm-generic/unistd.h run through the C preprocessor (gcc -E -dM) with the __ARCH_WANT_*
          macros arm64's asm/unistd.h sets and __BITS_PER_LONG 64
plus LATER below: the calls added after 6.1, up to Linux 6.18, which no installed header knows yet.

  python3 generate-syscall-tables.py            rewrite the four files beside this script
  python3 generate-syscall-tables.py --check    exit 1 (and name the file) when a committed table differs

Needs python3 and gcc (preprocessor only). tests/KataAgent.Tests/Seccomp/SyscallTableGeneratorTests runs --check.
"""
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
X86_HEADERS = "/usr/include/x86_64-linux-gnu/asm"
GENERIC_HEADER_ROOT = "/usr/include"
X32_SYSCALL_BIT = 0x40000000
LATEST = "6.18"

# arm64's uapi asm/unistd.h (Linux 6.1) before it includes asm-generic/unistd.h; since 6.11 the same choice is
# scripts/syscall.tbl with abis common, 64, renameat, rlimit, memfd_secret.
ARM64_WANTS = ["RENAMEAT", "NEW_STAT", "SET_GET_RLIMIT", "TIME32_SYSCALLS", "SYS_CLONE3", "MEMFD_SECRET"]

# Calls added after the 6.1 headers, as the kernel's tables list them. "64" marks syscall_64.tbl's abi 64
# (x86_64 only: not x32, and syscall_32.tbl leaves the number unused).
X86_64 = {"x86_64"}
EVERY = {"x86_64", "x32", "i386", "aarch64"}
LATER = [
    ("uretprobe", 335, X86_64),                    # 6.11, abi 64
    ("uprobe", 336, X86_64),                       # 6.16, abi 64
    ("cachestat", 451, EVERY),                     # 6.5
    ("fchmodat2", 452, EVERY),                     # 6.6
    ("map_shadow_stack", 453, X86_64 | {"aarch64"}),  # 6.6: abi 64 on x86; common in the generic table
    ("futex_wake", 454, EVERY),                    # 6.7
    ("futex_wait", 455, EVERY),
    ("futex_requeue", 456, EVERY),
    ("statmount", 457, EVERY),                     # 6.8
    ("listmount", 458, EVERY),
    ("lsm_get_self_attr", 459, EVERY),
    ("lsm_set_self_attr", 460, EVERY),
    ("lsm_list_modules", 461, EVERY),
    ("mseal", 462, EVERY),                         # 6.10
    ("setxattrat", 463, EVERY),                    # 6.13
    ("getxattrat", 464, EVERY),
    ("listxattrat", 465, EVERY),
    ("removexattrat", 466, EVERY),
    ("open_tree_attr", 467, EVERY),                # 6.15
    ("file_getattr", 468, EVERY),                  # 6.17
    ("file_setattr", 469, EVERY),
    ("listns", 470, EVERY),                        # 6.18
]

TABLES = [
    # (abi key, class suffix, summary, source description, number format)
    ("x86_64", "X86_64", "Syscall numbers of x86_64 (AUDIT_ARCH_X86_64): the 64-bit ABI.",
     "asm/unistd_64.h (arch/x86/entry/syscalls/syscall_64.tbl, abis \"common\" and \"64\")", "{}"),
    ("x32", "X32", "Syscall numbers of x32 (AUDIT_ARCH_X86_64 with __X32_SYSCALL_BIT 0x40000000 set in the number).",
     "asm/unistd_x32.h (arch/x86/entry/syscalls/syscall_64.tbl, abis \"common\" and \"x32\", plus __X32_SYSCALL_BIT)",
     "0x{:08X}"),
    ("i386", "I386",
     "Syscall numbers of i386 (AUDIT_ARCH_I386), also what 32-bit x86 programs use on an x86_64 kernel.",
     "asm/unistd_32.h (arch/x86/entry/syscalls/syscall_32.tbl)", "{}"),
    ("aarch64", "Aarch64", "Syscall numbers of aarch64 (AUDIT_ARCH_AARCH64).",
     "asm-generic/unistd.h with arm64's __ARCH_WANT_* set (since Linux 6.11: scripts/syscall.tbl, abis "
     "common/64/renameat/rlimit/memfd_secret)", "{}"),
]


def x86_header(name, bit=0):
    entries = []
    with open(os.path.join(X86_HEADERS, name), encoding="ascii") as header:
        for line in header:
            match = re.fullmatch(r"#define __NR_(\w+) (?:\(__X32_SYSCALL_BIT \+ (\d+)\)|(\d+))", line.strip())
            if match:
                entries.append((match.group(1), int(match.group(2) or match.group(3)) + bit))
    return entries


def generic_header():
    with tempfile.TemporaryDirectory() as include:
        os.mkdir(os.path.join(include, "asm"))
        with open(os.path.join(include, "asm", "bitsperlong.h"), "w", encoding="ascii") as bits:
            bits.write("#define __BITS_PER_LONG 64\n")
        source = "".join(f"#define __ARCH_WANT_{want}\n" for want in ARM64_WANTS) + "#include <asm-generic/unistd.h>\n"
        macros = subprocess.run(["gcc", "-E", "-dM", "-nostdinc", "-I" + include, "-I" + GENERIC_HEADER_ROOT, "-x", "c", "-"],
                                input=source, capture_output=True, text=True, check=True).stdout
    definitions = {}
    order = []
    for line in macros.splitlines():
        match = re.fullmatch(r"#define (__NR\w+) (.+)", line.strip())
        if match:
            definitions[match.group(1)] = match.group(2).strip()
            order.append(match.group(1))

    def value(text, depth=0):
        text = text.strip()
        if depth > 16:
            return None
        if re.fullmatch(r"\d+", text):
            return int(text)
        if text in definitions:
            return value(definitions[text], depth + 1)
        match = re.fullmatch(r"\((.+)\)", text)
        if match:
            return value(match.group(1), depth + 1)
        match = re.fullmatch(r"(\w+) \+ (\d+)", text)
        if match:
            base = value(match.group(1), depth + 1)
            return None if base is None else base + int(match.group(2))
        return None

    entries = []
    for macro in order:
        # __NR3264_* are the 32/64-bit-neutral spellings behind __NR_*; __NR_syscalls and
        # __NR_arch_specific_syscall are counts and ranges, not calls.
        if macro.startswith("__NR3264_") or macro in ("__NR_syscalls", "__NR_arch_specific_syscall"):
            continue
        number = value(definitions[macro])
        if number is not None:
            entries.append((macro[len("__NR_"):], number))
    return entries


def entries_for(abi):
    base = {
        "x86_64": lambda: x86_header("unistd_64.h"),
        "x32": lambda: x86_header("unistd_x32.h", X32_SYSCALL_BIT),
        "i386": lambda: x86_header("unistd_32.h"),
        "aarch64": generic_header,
    }[abi]()
    known = {name for name, _ in base}
    bit = X32_SYSCALL_BIT if abi == "x32" else 0
    base += [(name, number + bit) for name, number, abis in LATER if abi in abis and name not in known]
    return sorted(base, key=lambda entry: entry[1])


def render(abi, suffix, summary, source, number_format):
    entries = entries_for(abi)
    lines = [
        "namespace KataAgent.Helpers.Seccomp;",
        "",
        f"/// <summary>{summary}</summary>",
        "/// <remarks>",
        "/// Generated by generate-syscall-tables.py (beside this file; do not edit by hand) from Debian's linux-libc-dev",
        f"/// (Linux 6.1 uapi headers) {source}, plus the calls added up to Linux {LATEST}",
        f"/// (number {max(number for _, number, _ in LATER)}) that the script lists. Numbers are ABI facts and never change once",
        "/// released, so a newer name only has to be appended. Names a table lacks are skipped by the",
        "/// compiler, as runc and libseccomp do.",
        "/// </remarks>",
        f"internal static class SyscallTable{suffix}",
        "{",
        f"    /// <summary>{len(entries)} entries, sorted by number.</summary>",
        "    public static readonly (string Name, uint Number)[] Entries =",
        "    [",
    ]
    lines += [f"        (\"{name}\", {number_format.format(number)})," for name, number in entries]
    lines += ["    ];", "}", ""]
    return "\n".join(lines)


def main():
    check = sys.argv[1:] == ["--check"]
    if sys.argv[1:] not in ([], ["--check"]):
        sys.exit(f"usage: {sys.argv[0]} [--check]")
    stale = []
    for abi, suffix, summary, source, number_format in TABLES:
        path = os.path.join(HERE, f"SyscallTable{suffix}.cs")
        text = render(abi, suffix, summary, source, number_format)
        if check:
            with open(path, encoding="utf-8") as committed:
                if committed.read() != text:
                    stale.append(path)
        else:
            with open(path, "w", encoding="utf-8", newline="\n") as output:
                output.write(text)
    if stale:
        sys.exit("differs from the generator's output (run generate-syscall-tables.py): " + ", ".join(stale))


if __name__ == "__main__":
    main()
