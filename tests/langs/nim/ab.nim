import strutils

let parts = stdin.readLine().splitWhitespace()
echo parseInt(parts[0]) + parseInt(parts[1])
