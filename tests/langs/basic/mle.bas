rem 1 GiB in 1 MiB strings, each distinct.
s$ = "x"
for k = 1 to 20
  s$ = s$ + s$
next k
dim blocks$(1024)
for i = 1 to 1024
  blocks$(i) = str$(i) + s$
next i
print "allocated"
