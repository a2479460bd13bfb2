program MLE;
{ 1 GiB in 1 MiB blocks, each written so that it is really used. }
var
  blocks: array[1..1024] of pointer;
  i: integer;
begin
  for i := 1 to 1024 do
  begin
    getmem(blocks[i], 1 shl 20);
    fillchar(blocks[i]^, 1 shl 20, i mod 256);
  end;
  writeln('allocated');
end.
