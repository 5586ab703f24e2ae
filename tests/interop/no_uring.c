/*
 * tests/interop/no_uring.c - run a program where io_uring is forbidden.
 *
 * Usage: no_uring PROGRAM [ARG...]
 *
 * Owns: a seccomp BPF filter that makes io_uring_setup(2), io_uring_enter(2)
 * and io_uring_register(2) fail with EPERM, the way Docker's default seccomp
 * profile (Docker 25+) and kernel.io_uring_disabled do, then execvp() of its
 * arguments.  Every other system call is allowed.  The interop suite uses it
 * to test the server's fallback for real: `--io auto` must fall back to
 * epoll, `--io uring` must fail with a clear error.
 *
 * Invariants: the filter is installed with PR_SET_NO_NEW_PRIVS, so it needs
 * no privilege and is inherited by every thread and child of PROGRAM and
 * cannot be removed.  System calls of another architecture (a 32-bit
 * program, x32) are checked against that architecture's numbers where this
 * build knows them, and allowed otherwise: the point is a realistic EPERM for
 * the program under test, not a sandbox.
 *
 * Exit status: PROGRAM's, or 127 when it cannot be run, 126 when the filter
 * cannot be installed, 2 on bad usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* io_uring's syscall numbers are the same (425-427) on every architecture
 * that has them, but old headers may lack the names. */
#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#endif
#ifndef __NR_io_uring_enter
#define __NR_io_uring_enter 426
#endif
#ifndef __NR_io_uring_register
#define __NR_io_uring_register 427
#endif

#if defined(__x86_64__)
#define NO_URING_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NO_URING_AUDIT_ARCH AUDIT_ARCH_AARCH64
#elif defined(__i386__)
#define NO_URING_AUDIT_ARCH AUDIT_ARCH_I386
#elif defined(__riscv) && __riscv_xlen == 64
#define NO_URING_AUDIT_ARCH AUDIT_ARCH_RISCV64
#else
#error "no_uring: add this architecture's AUDIT_ARCH_* value"
#endif

/* x32 system calls on x86_64 carry this bit in the number. */
#define NO_URING_X32_BIT 0x40000000u

#define ERRNO_EPERM (SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA))

/* The filter, in order:
 *   0  load arch
 *   1  arch == ours ? next : jump to ALLOW (another ABI: not our business)
 *   2  load nr
 *   3  clear the x32 bit (nr & ~X32_BIT), so x32 calls match too
 *   4-6  nr == setup / enter / register ? EPERM : next
 *   7  ALLOW
 *   8  EPERM
 */
static struct sock_filter no_uring_filter[] = {
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NO_URING_AUDIT_ARCH, 0, 5),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	BPF_STMT(BPF_ALU | BPF_AND | BPF_K, ~NO_URING_X32_BIT),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 3, 0),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_enter, 2, 0),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_register, 1, 0),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	BPF_STMT(BPF_RET | BPF_K, ERRNO_EPERM),
};

static int no_uring_install(void)
{
	struct sock_fprog prog = {
		.len = sizeof no_uring_filter / sizeof no_uring_filter[0],
		.filter = no_uring_filter,
	};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		fprintf(stderr, "no_uring: prctl(PR_SET_NO_NEW_PRIVS): %s\n", strerror(errno));
		return -1;
	}
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) {
		fprintf(stderr, "no_uring: prctl(PR_SET_SECCOMP): %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: no_uring PROGRAM [ARG...]\n"
				"Runs PROGRAM with io_uring_setup/enter/register failing with EPERM.\n");
		return 2;
	}
	if (no_uring_install() != 0)
		return 126;
	execvp(argv[1], argv + 1);
	fprintf(stderr, "no_uring: cannot run %s: %s\n", argv[1], strerror(errno));
	return 127;
}
