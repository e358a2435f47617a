{% include "header.v" %}
//
// Testbench for bbs_top: the host. Run it in a directory holding the files
// of `bbs_hdlgen::program::RunFiles`:
//   program.hex    the instruction buffer (IMEM_INIT)
//   vmem_b<b>.hex  the vector memory's initial contents, bank by bank
//   pe<p>_mat.hex  the matrix memories' initial contents
//   pe<p>_load.hex (when run.hex says so) words to write through the matrix
//                  load port before the first start
//   in.hex         the host's input stream, one beat per line: {tlast, tdata}
//   run.hex        instructions, runs (frames), matrix load through the port
//                  (0/1), matrix words per PE, input beats
{%- if p.ov.on %}
//   issue_<unit>.hex, waits.hex  the issue lists and the wait table
// It sets NINSTR and FRAMES = `runs`, starts the program once (the frames
// run back to back, overlapping),
{%- else %}
// It sets NINSTR, starts the program `runs` times (the state carries over),
{%- endif %}
// answers every load and store link_latency = {{ p.link_latency }} cycle(s) after the
// accelerator asks, and prints
//   OUT <i> <value>   every stored element, in order (signed fixed-point integer)
//   CYCLES <n>        the cycles of all runs, start cycle to done; each run's
//                     count is checked against the CYCLES register
// With +vcd (and a `verilator --trace` build) it dumps every signal to dump.vcd.
{%- if p.ov.on %}
// With +issue it prints START <cycle> at the start and ISSUE <cycle> <unit>
// <instruction> <frame> for every dispatch (units: 0 DMA in, 1 DMA out,
// 2 vector load, 3 PE array, 4 EWOP, 5 ACT).
{%- endif %}

module tb_bbs;

  localparam integer LINK_LATENCY = {{ p.link_latency }};
  localparam integer W = {{ p.w.value }};
  localparam integer BEAT_W = {{ p.w.beat }};
  localparam integer EPB = {{ p.beat_el }};
  localparam integer EB = {{ p.w.elem_bytes }};
  localparam integer IN_DEPTH = 65536;
  localparam integer TIMEOUT = 50000000;

  reg clk_i = 1'b0;
  reg rst_ni = 1'b0;
  reg reg_we = 1'b0;
  reg [{{ p.w.reg_addr - 1 }}:0] reg_addr = {{ p.reg_ctrl }};
  reg [31:0] reg_wdata = 32'd0;
  wire [31:0] reg_rdata;
  reg mat_we = 1'b0;
  reg [{{ p.w.pe_sel - 1 }}:0] mat_pe = 0;
  reg [{{ p.w.mat_addr - 1 }}:0] mat_waddr = 0;
  reg [{{ p.w.mat_word - 1 }}:0] mat_wdata = 0;
  wire busy;
  wire done;
  wire s_tvalid;
  wire s_tready;
  wire [BEAT_W-1:0] s_tdata;
  wire s_tlast;
  wire m_tvalid;
  wire m_tready;
  wire [BEAT_W-1:0] m_tdata;
  wire [{{ p.w.beat_bytes - 1 }}:0] m_tkeep;
  wire m_tlast;

  reg [31:0] run_params [0:4];
  reg [BEAT_W:0] in_mem [0:IN_DEPTH-1];
  reg [{{ p.w.mat_word - 1 }}:0] mat_buf [0:{{ p.mat_depth - 1 }}];
  integer cycle = 0;
  integer t_start = 0;
  integer t_done = 0;
  reg armed = 1'b0;
  integer total = 0;
  integer run;
  integer i;
  integer runs;
  integer in_beats;

  always #5 clk_i = ~clk_i;

  bbs_top dut (
    .clk_i          (clk_i),
    .rst_ni         (rst_ni),
    .busy_o         (busy),
    .done_o         (done),
    .reg_we_i       (reg_we),
    .reg_addr_i     (reg_addr),
    .reg_wdata_i    (reg_wdata),
    .reg_rdata_o    (reg_rdata),
    .imem_we_i      (1'b0),
    .imem_waddr_i   ({{ p.w.imem_addr }}'d0),
    .imem_wdata_i   ({{ p.w.instr }}'d0),
{%- if p.ov.on %}
    .tab_we_i       (1'b0),
    .tab_sel_i      (3'd0),
    .tab_waddr_i    ({{ p.ov.w_tab_addr }}'d0),
    .tab_wdata_i    ({{ p.ov.w_tab_data }}'d0),
{%- endif %}
    .mat_we_i       (mat_we),
    .mat_pe_i       (mat_pe),
    .mat_waddr_i    (mat_waddr),
    .mat_wdata_i    (mat_wdata),
    .s_axis_tvalid_i(s_tvalid),
    .s_axis_tready_o(s_tready),
    .s_axis_tdata_i (s_tdata),
    .s_axis_tlast_i (s_tlast),
    .m_axis_tvalid_o(m_tvalid),
    .m_axis_tready_i(m_tready),
    .m_axis_tdata_o (m_tdata),
    .m_axis_tkeep_o (m_tkeep),
    .m_axis_tlast_o (m_tlast)
  );

  // ---- The host's side of the two streams ----
  // in_wait/out_wait count the cycles since the accelerator started asking
  // (tready of a load, tvalid of a store); the host answers at LINK_LATENCY.
  integer in_ptr = 0;
  integer in_wait = 0;
  integer out_wait = 0;
  integer out_count = 0;
  reg [W-1:0] elem;

  assign s_tvalid = s_tready && (in_wait >= LINK_LATENCY) && (in_ptr < in_beats);
  assign s_tdata  = in_mem[in_ptr][BEAT_W-1:0];
  assign s_tlast  = in_mem[in_ptr][BEAT_W];
  assign m_tready = m_tvalid && (out_wait >= LINK_LATENCY);

  always @(posedge clk_i) begin
    cycle <= cycle + 1;
    if (reg_we && reg_addr == {{ p.reg_ctrl }} && reg_wdata[0]) begin
      t_start <= cycle;
      armed   <= 1'b1;
    end else if (armed && done) begin
      t_done <= cycle;
      armed  <= 1'b0;
    end
    if (s_tready) begin
      in_wait <= in_wait + 1;
      if (s_tvalid) begin
        in_ptr <= in_ptr + 1;
        if (s_tlast) in_wait <= 0;
      end
    end
    if (m_tvalid) begin
      out_wait <= out_wait + 1;
      if (m_tready) begin
        for (i = 0; i < EPB; i = i + 1) begin
          if (m_tkeep[i*EB]) begin
            elem = m_tdata[i*EB*8 +: W];
            $display("OUT %0d %0d", out_count, $signed(elem));
            out_count = out_count + 1;
          end
        end
        if (m_tlast) out_wait <= 0;
      end
    end
{%- if p.ov.on %}
    // +issue: every unit's dispatch (the PE array's: its first compute
    // cycle), for a cycle-by-cycle comparison with the cycle model.
    if (issue_log && rst_ni) begin
      if (reg_we && reg_addr == {{ p.reg_ctrl }} && reg_wdata[0]) begin
        $display("START %0d", cycle);
      end
      for (unit = 0; unit < {{ p.ov.units }}; unit = unit + 1) begin
        if (dut.advance[unit]) begin
          $display("ISSUE %0d %0d %0d %0d", cycle, unit,
                   dut.head_instr[unit*{{ p.ov.w_instr }} +: {{ p.ov.w_instr }}],
                   dut.head_frame[unit*{{ p.ov.w_frame }} +: {{ p.ov.w_frame }}]);
        end
      end
    end
{%- endif %}
    if (cycle > TIMEOUT) begin
      $display("TIMEOUT after %0d cycles", cycle);
      $finish;
    end
  end

{% if p.ov.on %}  reg issue_log = 1'b0;
  integer unit;
{% endif %}  initial begin
{%- if p.ov.on %}
    issue_log = $test$plusargs("issue");
{%- endif %}
    if ($test$plusargs("vcd")) begin
      $dumpfile("dump.vcd");
      $dumpvars(0, tb_bbs);
    end
    $readmemh("run.hex", run_params);
    runs = run_params[1];
    in_beats = run_params[4];
    $readmemh("in.hex", in_mem);
    repeat (3) @(negedge clk_i);
    rst_ni = 1'b1;
    if (run_params[2] != 0) begin
{%- for pe in p.pe_list %}
      $readmemh("pe{{ pe }}_load.hex", mat_buf);
      for (i = 0; i < run_params[3]; i = i + 1) begin
        @(negedge clk_i);
        mat_we = 1'b1;
        mat_pe = {{ p.w.pe_sel }}'d{{ pe }};
        mat_waddr = i[{{ p.w.mat_addr - 1 }}:0];
        mat_wdata = mat_buf[i];
      end
{%- endfor %}
      @(negedge clk_i);
      mat_we = 1'b0;
    end
    @(negedge clk_i);
    reg_we = 1'b1;
    reg_addr = {{ p.reg_ninstr }};
    reg_wdata = run_params[0];
{%- if p.ov.on %}
    // The overlapped machine runs every frame from one start.
    @(negedge clk_i);
    reg_addr = {{ p.reg_frames }};
    reg_wdata = runs;
    runs = 1;
{%- endif %}
    for (run = 0; run < runs; run = run + 1) begin
      @(negedge clk_i);
      reg_we = 1'b1;
      reg_addr = {{ p.reg_ctrl }};
      reg_wdata = 32'd1;
      @(negedge clk_i);
      reg_we = 1'b0;
      reg_addr = {{ p.reg_cycles }};
      while (armed) @(negedge clk_i);
      @(negedge clk_i);
      if (reg_rdata != t_done - t_start) begin
        $display("ERROR run %0d: the CYCLES register says %0d, the testbench counted %0d",
                 run, reg_rdata, t_done - t_start);
      end
      total = total + (t_done - t_start);
    end
    $display("CYCLES %0d", total);
    $finish;
  end

endmodule
