# Doubles a string until it is 1 GiB.
s=x
for i in {1..30}; do s="$s$s"; done
echo ${#s}
