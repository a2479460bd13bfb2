module main;
  initial $fatal(1, "runtime error");
endmodule
