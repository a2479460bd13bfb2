program CE;
var x: integer;
begin
  x := 'not an integer';
  writeln(x);
end.
