fn main() {
    // 1 GiB in 1 MiB blocks, each written so that it is really used.
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    for i in 0..1024 {
        blocks.push(vec![(i % 251) as u8 + 1; 1 << 20]);
    }
    println!("{}", blocks.len());
}
