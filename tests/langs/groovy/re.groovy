def a = new int[1]
println a[2]
