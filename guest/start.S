/* SPDX-License-Identifier: MIT */
/*
 * Entry of the guest program. The VMM enters it in 64-bit mode at CPL 3
 * with paging on (its identity page tables), the stack pointer set and
 * %rdi pointing at struct vmm_boot. Clear .bss, run guest_main(), report
 * its status on the done port; the VMM stops there.
 */
	.section .text.start, "ax"
	.globl _start
_start:
	mov	%rdi, %rbx
	lea	__bss_start(%rip), %rdi
	lea	__bss_end(%rip), %rcx
	sub	%rdi, %rcx
	xor	%eax, %eax
	cld
	rep stosb
	mov	%rbx, %rdi
	call	guest_main
	mov	$0x504, %dx
	out	%eax, %dx
1:	pause
	jmp	1b

	.section .note.GNU-stack, "", @progbits
