// Linked into the Native-AOT executables whose start is dominated by the runtime expanding its type data
// (StartupCodeHelpers.RehydrateData writes several MB into the zero-initialised tail of the writable segment,
// .bss + .hydrated, before Main). Each 4 KiB page of that range costs a page fault; asking for transparent huge
// pages there turns about 1500 faults into a handful (docs/BENCHMARKS.md, "Native-AOT start-up: type data").
// The range is written in full at every start, so huge pages add no resident memory beyond a partly used
// .bss page. Only whole 2 MiB-aligned blocks inside the range are advised: nothing outside it changes.
// It runs as an ELF constructor: before main, so before the runtime's start. Every failure is ignored (a kernel
// without THP, or THP set to "never", just keeps 4 KiB pages).
#define _GNU_SOURCE
#include <link.h>
#include <stdint.h>
#include <sys/mman.h>

#define HUGE_PAGE_SIZE ((uintptr_t)2 << 20)

static int advise_writable_tail(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    for (int i = 0; i < info->dlpi_phnum; i++)
    {
        const ElfW(Phdr) *segment = &info->dlpi_phdr[i];
        if (segment->p_type != PT_LOAD || (segment->p_flags & PF_W) == 0 || segment->p_memsz <= segment->p_filesz)
        {
            continue;
        }
        uintptr_t start = info->dlpi_addr + segment->p_vaddr + segment->p_filesz;
        uintptr_t end = info->dlpi_addr + segment->p_vaddr + segment->p_memsz;
        start = (start + HUGE_PAGE_SIZE - 1) & ~(HUGE_PAGE_SIZE - 1);
        end &= ~(HUGE_PAGE_SIZE - 1);
        if (end > start)
        {
            (void)madvise((void *)start, end - start, MADV_HUGEPAGE);
        }
    }
    // The first object dl_iterate_phdr visits is the executable itself: stop there.
    return 1;
}

__attribute__((constructor)) static void kataagent_hydrated_hugepages(void)
{
    dl_iterate_phdr(advise_writable_tail, 0);
}
