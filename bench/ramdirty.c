// SPDX-License-Identifier: GPL-2.0
/*
 * ramdirty - the guest of the vfsim scenarios' no-device baseline.
 *
 * vfsim's DMA engine writes "rate" records a second into a ring of guest
 * pages; the baseline migrates the same VM with no device, so something
 * else must dirty the same pages at the same rate, and QEMU must see it
 * as it sees any guest store.  This is that something: a multiboot kernel
 * (QEMU's -kernel loads it in 32-bit protected mode) that stores a
 * sequence number at the start of ring page seq % ring, rate times a
 * second, and halts between a 1 kHz timer's ticks, so that its vCPU is as
 * idle as the halting firmware of the vfsim rows.
 *
 *   -kernel ramdirty -append "base=ADDR ring=PAGES rate=PER_SECOND"
 *
 * Pacing is by the TSC (calibrated against PIT channel 2), so a tick the
 * busy host delivered late is caught up, not lost; under TCG the TSC
 * stands still while the VM is stopped.  It prints one line on COM1,
 * "ramdirty: RATE pages/s into RING pages at BASE, TSC N kHz", which the
 * benchmark waits for; anything wrong prints "ramdirty: error: ..." and
 * halts.
 *
 * Built -m32 -ffreestanding -nostdlib, linked at 1 MiB: no libgcc, so the
 * one 64-bit division is done by hand.
 */

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#define MB_MAGIC	0x1badb002u
#define MB_FLAGS	0x00000003u	/* page-aligned modules, memory info */
#define MB_LOADER_MAGIC	0x2badb002u
#define MB_INFO_MEM	0x1u		/* flags: mem_lower, mem_upper valid */
#define MB_INFO_CMDLINE	0x4u		/* flags: cmdline is valid */

#define COM1		0x3f8
#define PIT_HZ		1193182u
#define TICK_HZ		1000u
#define PAGE		4096u

struct mb_info {
	u32 flags;		/* MB_INFO_*: which fields are valid */
	u32 mem_lower, mem_upper;
	u32 boot_device;
	u32 cmdline;
};

/* Flat 4 GiB code (0x08) and data (0x10) segments, and the IDT */
static u64 gdt[3] = {
	0, 0x00cf9a000000ffffull, 0x00cf92000000ffffull
};

static u64 idt[256];

/*
 * The multiboot header (in the file's first 8 KiB: it opens .text, linked
 * first with -n), then the entry point: a stack, then kmain(magic, mbi)
 */
#define STR(x) #x
#define XSTR(x) STR(x)
__asm__(".text\n"
	".align 4\n"
	".long " XSTR(MB_MAGIC) ", " XSTR(MB_FLAGS) ", -(" XSTR(MB_MAGIC) " + " XSTR(MB_FLAGS) ")\n"
	".local stack\n"
	".comm stack, 16384, 16\n"
	".globl _start\n"
	"_start:\n"
	"	cli\n"
	"	cld\n"
	"	mov	$stack + 16384, %esp\n"
	"	push	%ebx\n"
	"	push	%eax\n"
	"	call	kmain\n"
	"1:	cli\n"
	"	hlt\n"
	"	jmp	1b\n"
	/* Every vector: EOI to both PICs and return (no exception is expected) */
	"irq_stub:\n"
	"	push	%eax\n"
	"	mov	$0x20, %al\n"
	"	out	%al, $0xa0\n"
	"	out	%al, $0x20\n"
	"	pop	%eax\n"
	"	iret\n");

static inline void port_out(u16 port, u8 v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline u8 port_in(u16 port)
{
	u8 v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline u64 rdtsc(void)
{
	u32 lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (u64)hi << 32 | lo;
}

static void putc(char c)
{
	while (!(port_in(COM1 + 5) & 0x20))
		;
	port_out(COM1, c);
}

static void puts(const char *s)
{
	while (*s)
		putc(*s++);
}

static void putu(u32 v)
{
	char buf[11];
	int i = 10;

	buf[i] = 0;
	do {
		buf[--i] = '0' + v % 10;
		v /= 10;
	} while (v);
	puts(buf + i);
}

static void die(const char *why)
{
	puts("ramdirty: error: ");
	puts(why);
	puts("\n");
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* a / b for a 64-bit a and a non-zero 32-bit b, by shift and subtract */
static u64 div64(u64 a, u32 b)
{
	u64 q = 0, r = 0;
	int i;

	for (i = 63; i >= 0; i--) {
		r = r << 1 | (a >> i & 1);
		if (r >= b) {
			r -= b;
			q |= 1ull << i;
		}
	}
	return q;
}

/* The value of "name=" on the command line, 0 when absent or not a number */
static u32 param(const char *cmdline, const char *name)
{
	const char *p = cmdline, *n;
	u32 v = 0;

	while (p && *p) {
		while (*p == ' ')
			p++;
		for (n = name; *n && *p == *n; n++, p++)
			;
		if (!*n && *p == '=') {
			p++;
			if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
				for (p += 2; *p && *p != ' '; p++)
					v = v << 4 | (*p <= '9' ? *p - '0' :
						      (*p | 0x20) - 'a' + 10);
			} else {
				for (; *p >= '0' && *p <= '9'; p++)
					v = v * 10 + *p - '0';
			}
			return v;
		}
		while (*p && *p != ' ')
			p++;
	}
	return 0;
}

static void load_tables(void)
{
	/* the 6-byte operands of lgdt and lidt: limit, base (low, high) */
	u16 gdtr[3], idtr[3];
	u32 h;
	int i;

	__asm__("lea irq_stub, %0" : "=r"(h));

	/* 32-bit interrupt gates to irq_stub in segment 0x08 */
	for (i = 0; i < 256; i++)
		idt[i] = (u64)(h & 0xffff) | (u64)0x08 << 16 |
			 (u64)0x8e00 << 32 | (u64)(h >> 16) << 48;
	gdtr[0] = sizeof(gdt) - 1;
	gdtr[1] = (u32)gdt & 0xffff;
	gdtr[2] = (u32)gdt >> 16;
	idtr[0] = sizeof(idt) - 1;
	idtr[1] = (u32)idt & 0xffff;
	idtr[2] = (u32)idt >> 16;
	__asm__ volatile("lgdt %0\n"
			 "ljmp $0x08, $1f\n"
			 "1: mov $0x10, %%ax\n"
			 "mov %%ax, %%ds\n"
			 "mov %%ax, %%es\n"
			 "mov %%ax, %%ss\n"
			 "mov %%ax, %%fs\n"
			 "mov %%ax, %%gs\n"
			 "lidt %1\n"
			 : : "m"(gdtr), "m"(idtr) : "eax", "memory");
}

/* TSC ticks in 50 ms of PIT channel 2 (gate on, speaker off, mode 0) */
static u32 tsc_khz(void)
{
	u32 latch = PIT_HZ / 20, n = 0;
	u64 t0, t1;

	port_out(0x61, (port_in(0x61) & ~0x02) | 0x01);
	port_out(0x43, 0xb0);
	port_out(0x42, latch & 0xff);
	port_out(0x42, latch >> 8);
	t0 = rdtsc();
	while (!(port_in(0x61) & 0x20))
		if (++n == 0x40000000)
			die("PIT channel 2 never counted down");
	t1 = rdtsc();
	return (u32)div64(t1 - t0, 50);
}

/* The 8259s at vectors 0x20 and 0x28, only IRQ 0 on; PIT channel 0 at 1 kHz */
static void start_timer(void)
{
	u16 div = (PIT_HZ + TICK_HZ / 2) / TICK_HZ;

	port_out(0x20, 0x11);
	port_out(0xa0, 0x11);
	port_out(0x21, 0x20);
	port_out(0xa1, 0x28);
	port_out(0x21, 0x04);
	port_out(0xa1, 0x02);
	port_out(0x21, 0x01);
	port_out(0xa1, 0x01);
	port_out(0x21, 0xfe);
	port_out(0xa1, 0xff);
	port_out(0x43, 0x34);
	port_out(0x40, div & 0xff);
	port_out(0x40, div >> 8);
}

/* Called from _start (so not static) */
void kmain(u32 magic, const struct mb_info *mbi)
{
	const char *cmdline = "";
	u32 base, ring, rate, khz;
	u64 start, due;
	u32 seq = 0;

	load_tables();
	if (magic != MB_LOADER_MAGIC)
		die("not started by a multiboot loader");
	if (mbi->flags & MB_INFO_CMDLINE)
		cmdline = (const char *)mbi->cmdline;
	base = param(cmdline, "base");
	ring = param(cmdline, "ring");
	rate = param(cmdline, "rate");
	if (!base || base % PAGE || !ring)
		die("base= (page aligned) and ring= are needed");
	if ((u64)ring * PAGE > 0xffffffffull - base)
		die("the ring goes past 4 GiB");
	/* mem_upper: KiB of RAM from 1 MiB up to the first hole */
	if (!(mbi->flags & MB_INFO_MEM) ||
	    base + (u64)ring * PAGE > 0x100000 + (u64)mbi->mem_upper * 1024)
		die("the ring is not all in RAM");

	khz = tsc_khz();
	if (!khz)
		die("no TSC");
	puts("ramdirty: ");
	putu(rate);
	puts(" pages/s into ");
	putu(ring);
	puts(" pages at ");
	putu(base);
	puts(", TSC ");
	putu(khz);
	puts(" kHz\n");

	start_timer();
	start = rdtsc();
	for (;;) {
		/* The pages due by now: elapsed ticks * rate / ticks a second */
		due = div64(div64((rdtsc() - start) * rate, khz), 1000);
		while (seq < due) {
			u32 *p = (u32 *)(base + (seq % ring) * PAGE);

			p[0] = seq;
			p[1] = ~seq;
			seq++;
		}
		/* the stores above happen before the wait ("memory") */
		__asm__ volatile("sti; hlt; cli" : : : "memory");
	}
}
