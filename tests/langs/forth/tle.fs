: spin  begin 1 drop again ;
spin
