procedure Main is
   N : Long_Long_Integer := 0 with Volatile;
begin
   loop
      N := N + 1;
      if N = Long_Long_Integer'Last then
         N := 0;
      end if;
   end loop;
end Main;
