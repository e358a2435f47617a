{% include "header.v" %}
//
// Testbench for bbs_top. Run it in a directory holding:
//   pe<p>_mat.hex  the matrix memories (bbs hdl --csb)
//   vec.hex        the input vector, one word of {{ p.banks }} elements per bank address
//   run.hex        three words: rows, slots (nonzeros per bank), bank size
// It writes the vector, pulses start, waits for done and prints
//   OUT <row> <value>   (signed decimal fixed-point integer)
//   CYCLES <n>          (from the cycle start is sampled to the cycle done is seen)
// With the plusarg +vcd (and a build with `verilator --trace`) it also dumps
// every signal to dump.vcd in the run directory (docs/trace.md).

module tb_bbs;

  localparam integer P = {{ p.pes }};
  localparam integer VEC_W = {{ p.banks * p.value_w }};
  localparam integer TIMEOUT = 50000000;

  reg clk_i = 1'b0;
  reg rst_ni = 1'b0;
  reg start = 1'b0;
  reg vec_we = 1'b0;
  reg [{{ p.index_w - 1 }}:0] vec_waddr = 0;
  reg [VEC_W-1:0] vec_wdata = 0;
  reg [{{ p.pe_sel_w - 1 }}:0] out_pe = 0;
  reg [{{ p.local_row_w - 1 }}:0] out_addr = 0;
  reg [{{ p.rows_w - 1 }}:0] rows = 0;
  reg [{{ p.slots_w - 1 }}:0] slots = 0;
  reg [{{ p.vec_words_w - 1 }}:0] vec_words = 0;
  wire busy;
  wire done;
  wire [{{ p.value_w - 1 }}:0] out_rdata;

  reg [31:0] run_params [0:2];
  reg [VEC_W-1:0] vec_mem [0:{{ p.bank_depth - 1 }}];
  integer cycle = 0;
  integer t_start = -1;
  integer t_done = -1;
  integer i;

  always #5 clk_i = ~clk_i;

  bbs_top dut (
    .clk_i      (clk_i),
    .rst_ni     (rst_ni),
    .start_i    (start),
    .busy_o     (busy),
    .done_o     (done),
    .rows_i     (rows),
    .slots_i    (slots),
    .vec_words_i(vec_words),
    .mat_we_i   (1'b0),
    .mat_pe_i   ({{ p.pe_sel_w }}'d0),
    .mat_waddr_i({{ p.mat_addr_w }}'d0),
    .mat_wdata_i({{ p.mat_word_w }}'d0),
    .vec_we_i   (vec_we),
    .vec_waddr_i(vec_waddr),
    .vec_wdata_i(vec_wdata),
    .out_pe_i   (out_pe),
    .out_addr_i (out_addr),
    .out_rdata_o(out_rdata)
  );

  always @(posedge clk_i) begin
    cycle <= cycle + 1;
    if (start && t_start < 0) t_start <= cycle;
    if (done && t_start >= 0 && t_done < 0) t_done <= cycle;
    if (cycle > TIMEOUT) begin
      $display("TIMEOUT after %0d cycles", cycle);
      $finish;
    end
  end

  initial begin
    if ($test$plusargs("vcd")) begin
      $dumpfile("dump.vcd");
      $dumpvars(0, tb_bbs);
    end
    $readmemh("run.hex", run_params);
    $readmemh("vec.hex", vec_mem);
    rows = run_params[0][{{ p.rows_w - 1 }}:0];
    slots = run_params[1][{{ p.slots_w - 1 }}:0];
    vec_words = run_params[2][{{ p.vec_words_w - 1 }}:0];
    repeat (3) @(negedge clk_i);
    rst_ni = 1'b1;
    for (i = 0; i < vec_words; i = i + 1) begin
      @(negedge clk_i);
      vec_we = 1'b1;
      vec_waddr = i[{{ p.index_w - 1 }}:0];
      vec_wdata = vec_mem[i];
    end
    @(negedge clk_i);
    vec_we = 1'b0;
    start = 1'b1;
    @(negedge clk_i);
    start = 1'b0;
    while (t_done < 0) @(negedge clk_i);
    for (i = 0; i < rows; i = i + 1) begin
      out_pe = i % P;
      out_addr = i / P;
      @(negedge clk_i);
      $display("OUT %0d %0d", i, $signed(out_rdata));
    end
    $display("CYCLES %0d", t_done - t_start);
    $finish;
  end

endmodule
