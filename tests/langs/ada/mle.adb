with Ada.Text_IO;

--  1 GiB in 1 MiB blocks, each written so that it is really used.
procedure Main is
   type Block is array (1 .. 1_048_576) of Character;
   type Block_Access is access Block;
   Blocks : array (1 .. 1024) of Block_Access;
begin
   for I in Blocks'Range loop
      Blocks (I) := new Block'(others => Character'Val (65 + I mod 26));
   end loop;
   Ada.Text_IO.Put_Line ("allocated");
end Main;
