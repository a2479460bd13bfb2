program TLE;
var n: int64;
begin
  n := 0;
  while true do
    n := n + 1;
end.
