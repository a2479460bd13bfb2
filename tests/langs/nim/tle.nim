var n = 0
while true:
  inc n
  if n == -1: echo n
