program RE;
{$R+}
var a: array[1..2] of integer; i: integer;
begin
  i := 0;
  a[i + paramcount] := 1; { range check error }
  writeln(a[1]);
end.
