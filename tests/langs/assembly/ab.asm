; Reads "A B\n" (non-negative integers) from stdin, prints A+B.
section .bss
buf:    resb 64
out:    resb 32

section .text
global _start
_start:
    xor rax, rax            ; read(0, buf, 64)
    xor rdi, rdi
    lea rsi, [rel buf]
    mov rdx, 64
    syscall
    lea rsi, [rel buf]
    call parse
    mov rbx, rax
    call parse
    add rax, rbx
    ; itoa into out, backwards
    lea rdi, [rel out + 31]
    mov byte [rdi], 10
    mov rcx, 1
    mov r8, 10
.digit:
    xor rdx, rdx
    div r8
    add dl, '0'
    dec rdi
    mov [rdi], dl
    inc rcx
    test rax, rax
    jnz .digit
    mov rax, 1              ; write(1, rdi, rcx)
    mov rsi, rdi
    mov rdi, 1
    mov rdx, rcx
    syscall
    mov rax, 60
    xor rdi, rdi
    syscall

; parse: skips non-digits at rsi, reads a number into rax, advances rsi
parse:
    xor rax, rax
.skip:
    movzx rdx, byte [rsi]
    cmp dl, '0'
    jb .next
    cmp dl, '9'
    jbe .num
.next:
    inc rsi
    jmp .skip
.num:
    movzx rdx, byte [rsi]
    cmp dl, '0'
    jb .done
    cmp dl, '9'
    ja .done
    imul rax, rax, 10
    sub dl, '0'
    add rax, rdx
    inc rsi
    jmp .num
.done:
    ret
