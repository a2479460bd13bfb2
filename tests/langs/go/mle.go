package main

import "fmt"

// 1 GiB in 1 MiB blocks, each written so that it is really used.
func main() {
	var blocks [][]byte
	for i := 0; i < 1024; i++ {
		b := make([]byte, 1<<20)
		for j := range b {
			b[j] = byte(i)
		}
		blocks = append(blocks, b)
	}
	fmt.Println(len(blocks))
}
