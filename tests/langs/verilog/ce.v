module main;
  initial begin
    $display("unbalanced")
  end
endmodule
