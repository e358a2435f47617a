{% include "header.v" %}
//
// One SpMxV processing element. Each cycle it takes one CSB word (one value
// and one bank-internal index per bank) from its matrix memory; multiplier b
// reads its own private vector bank b at that index, so no two multipliers
// ever share a bank. The adder tree sums the {{ p.banks }} products and the
// accumulator sums the words of a row. The finished row is rounded,
// saturated and handed out (res_*_o) to be written into the vector memory.
//
// Pipeline (cycles after the controller issues a word):
//   0: matrix memory read      1: vector bank reads
//   2: multiply, {{ p.mult_stages }} register stage(s)   then adder tree, {{ p.adder_stages }} register stage(s)
//   {{ p.acc_stage }}: accumulate      {{ p.acc_stage + 1 }}: round, saturate, hand the row to the vector memory

module bbs_pe #(
  parameter INIT_FILE = ""
) (
  input  wire                          clk_i,
  input  wire                          rst_ni,
  // Matrix load at run time: one CSB word into this PE's matrix memory.
  input  wire                          mat_we_i,
  input  wire [{{ p.w.mat_addr - 1 }}:0] mat_waddr_i,
  input  wire [{{ p.w.mat_word - 1 }}:0] mat_wdata_i,
{%- if p.ov.load_width > 1 %}
  // Vector load: {{ p.ov.load_width }} positions of every bank broadcast to every PE, from
  // position vec_waddr_i (a multiple of {{ p.ov.load_width }}): element g to bank g % {{ p.banks }},
  // position vec_waddr_i + g / {{ p.banks }}.
  input  wire                          vec_we_i,
  input  wire [{{ p.w.index - 1 }}:0]  vec_waddr_i,
  input  wire [{{ p.ov.load_run * p.w.value - 1 }}:0] vec_wdata_i,
{%- else %}
  // Vector load: one word (one element per bank) broadcast to every PE.
  input  wire                          vec_we_i,
  input  wire [{{ p.w.index - 1 }}:0]  vec_waddr_i,
  input  wire [{{ p.banks * p.w.value - 1 }}:0] vec_wdata_i,
{%- endif %}
{%- if p.ov.vbuf > 1 %}
  // Double-buffered private banks: the copy the load writes, and the copy
  // the word issued this cycle reads (the other one).
  input  wire                          vec_wbuf_i,
  input  wire                          issue_buf_i,
{%- endif %}
  // Issue: one matrix word per cycle while issue_valid_i.
  input  wire                          issue_valid_i,
  input  wire [{{ p.w.mat_addr - 1 }}:0] mat_addr_i,
  input  wire                          first_i,
  input  wire                          last_i,
  input  wire                          row_ok_i,
  input  wire [{{ p.w.local_row - 1 }}:0] local_row_i,
  // A finished row: its local row number and value, for the vector memory.
  output wire                          res_valid_o,
  output wire [{{ p.w.local_row - 1 }}:0] res_row_o,
  output wire [{{ p.w.value - 1 }}:0]  res_value_o
);

  localparam integer K = {{ p.banks }};
  localparam integer W = {{ p.w.value }};
  localparam integer IW = {{ p.w.index }};
  localparam integer PW = {{ p.w.prod }};
  localparam integer TW = {{ p.w.tree }};
  localparam integer A = {{ p.w.acc }};
  localparam integer F = {{ p.frac_bits }};
  localparam integer TAG_W = {{ p.w.local_row + 4 }};

  // ---- Stage 0: matrix memory ----
  wire [{{ p.w.mat_word - 1 }}:0] mat_word;

  bbs_ram #(
    .WIDTH({{ p.w.mat_word }}),
    .DEPTH({{ p.mat_depth }}),
    .ADDR_W({{ p.w.mat_addr }}),
    .INIT_FILE(INIT_FILE)
  ) u_mat_mem (
    .clk_i  (clk_i),
    .we_i   (mat_we_i),
    .waddr_i(mat_waddr_i),
    .wdata_i(mat_wdata_i),
    .raddr_i(mat_addr_i),
    .rdata_o(mat_word)
  );

  // Tags travel beside the data: {valid, first, last, row_ok, local_row}.
  wire [TAG_W-1:0] tag_issue = {issue_valid_i, first_i, last_i, row_ok_i, local_row_i};
  wire [TAG_W-1:0] tag_acc;

  bbs_delay #(.WIDTH(TAG_W), .DEPTH({{ p.acc_stage }})) u_tag_pipe (
    .clk_i (clk_i),
    .rst_ni(rst_ni),
    .d_i   (tag_issue),
    .q_o   (tag_acc)
  );

  // ---- Stage 1: vector banks, addressed by the bank-internal indices ----
  wire [K*W-1:0] weight_q;
  wire [K*W-1:0] operand;

  bbs_delay #(.WIDTH(K*W), .DEPTH(1)) u_weight_pipe (
    .clk_i (clk_i),
    .rst_ni(rst_ni),
    .d_i   (mat_word[K*W-1:0]),
    .q_o   (weight_q)
  );

{%- if p.ov.vbuf > 1 %}
  // The copy the banks read in stage 1, a cycle after the issue.
  reg read_buf_q;
  always @(posedge clk_i) begin
    if (!rst_ni) begin
      read_buf_q <= 1'b0;
    end else begin
      read_buf_q <= issue_buf_i;
    end
  end
{%- endif %}

  genvar b;
{%- if p.ov.load_width > 1 %}
  // Each private bank is {{ p.ov.load_width }} sub-banks: sub-bank s holds the positions p with
  // p % {{ p.ov.load_width }} == s at p / {{ p.ov.load_width }}{% if p.ov.vbuf > 1 %} (copy 1 above copy 0, at {{ p.ov.sub_depth }}){% endif %}, so a load cycle writes
  // {{ p.ov.load_width }} positions of every bank. The multiplier reading index j reads
  // sub-bank j % {{ p.ov.load_width }} at j / {{ p.ov.load_width }}, and picks its output by j % {{ p.ov.load_width }}, registered
  // beside the read.
  localparam integer LW = {{ p.ov.load_width }};
  localparam integer LL = {{ p.ov.lw_log2 }};
  localparam integer SA = {{ p.ov.w_sub_addr }};
  genvar s;
  generate
    for (b = 0; b < K; b = b + 1) begin : g_bank
      /* verilator lint_off UNUSEDSIGNAL */
      wire [IW+LL+SA-1:0] idx_w = { {(LL+SA){1'b0}}, vec_waddr_i};
      wire [IW+LL+SA-1:0] idx_r = { {(LL+SA){1'b0}}, mat_word[K*W + b*IW +: IW]};
      /* verilator lint_on UNUSEDSIGNAL */
      wire [SA-1:0] row_w = idx_w[LL +: SA];
      wire [SA-1:0] row_r = idx_r[LL +: SA];
      reg  [LL-1:0] sel_q;
      always @(posedge clk_i) begin
        if (!rst_ni) begin
          sel_q <= {LL{1'b0}};
        end else begin
          sel_q <= idx_r[LL-1:0];
        end
      end
      wire [LW*W-1:0] sub_data;
      for (s = 0; s < LW; s = s + 1) begin : g_sub
        bbs_ram #(
          .WIDTH(W),
          .DEPTH({{ p.ov.vbuf * p.ov.sub_depth }}),
          .ADDR_W(SA)
        ) u_vec_bank (
          .clk_i  (clk_i),
          .we_i   (vec_we_i),
{%- if p.ov.vbuf > 1 %}
          .waddr_i(vec_wbuf_i ? row_w + {{ p.ov.w_sub_addr }}'d{{ p.ov.sub_depth }} : row_w),
{%- else %}
          .waddr_i(row_w),
{%- endif %}
          .wdata_i(vec_wdata_i[(s*K + b)*W +: W]),
{%- if p.ov.vbuf > 1 %}
          .raddr_i(read_buf_q ? row_r + {{ p.ov.w_sub_addr }}'d{{ p.ov.sub_depth }} : row_r),
{%- else %}
          .raddr_i(row_r),
{%- endif %}
          .rdata_o(sub_data[s*W +: W])
        );
      end
      assign operand[b*W +: W] = sub_data[sel_q*W +: W];
    end
  endgenerate
{%- else %}
  generate
    for (b = 0; b < K; b = b + 1) begin : g_bank
{%- if p.ov.vbuf > 1 %}
      // Copy 1 lives above copy 0, at the bank depth.
{%- if p.ov.w_vbuf_addr > p.w.index %}
      wire [{{ p.ov.w_vbuf_addr - 1 }}:0] idx_w = { {{- p.ov.w_vbuf_addr - p.w.index }}'d0, vec_waddr_i};
      wire [{{ p.ov.w_vbuf_addr - 1 }}:0] idx_r = { {{- p.ov.w_vbuf_addr - p.w.index }}'d0, mat_word[K*W + b*IW +: IW]};
{%- else %}
      // One position per copy: the index is as wide as the address.
      wire [{{ p.ov.w_vbuf_addr - 1 }}:0] idx_w = vec_waddr_i;
      wire [{{ p.ov.w_vbuf_addr - 1 }}:0] idx_r = mat_word[K*W + b*IW +: IW];
{%- endif %}
      bbs_ram #(
        .WIDTH(W),
        .DEPTH({{ 2 * p.bank_depth }}),
        .ADDR_W({{ p.ov.w_vbuf_addr }})
      ) u_vec_bank (
        .clk_i  (clk_i),
        .we_i   (vec_we_i),
        .waddr_i(vec_wbuf_i ? idx_w + {{ p.ov.w_vbuf_addr }}'d{{ p.bank_depth }} : idx_w),
        .wdata_i(vec_wdata_i[b*W +: W]),
        .raddr_i(read_buf_q ? idx_r + {{ p.ov.w_vbuf_addr }}'d{{ p.bank_depth }} : idx_r),
        .rdata_o(operand[b*W +: W])
      );
{%- else %}
      bbs_ram #(
        .WIDTH(W),
        .DEPTH({{ p.bank_depth }}),
        .ADDR_W(IW)
      ) u_vec_bank (
        .clk_i  (clk_i),
        .we_i   (vec_we_i),
        .waddr_i(vec_waddr_i),
        .wdata_i(vec_wdata_i[b*W +: W]),
        .raddr_i(mat_word[K*W + b*IW +: IW]),
        .rdata_o(operand[b*W +: W])
      );
{%- endif %}
    end
  endgenerate
{%- endif %}

  // ---- Stage 2: multipliers: signed W x W -> exact 2W-bit products ----
  wire [K*PW-1:0] prod_d;
  wire [K*PW-1:0] prod_q;

  generate
    for (b = 0; b < K; b = b + 1) begin : g_mul
      // A plain signed W x W multiply, so synthesis maps one DSP multiplier
      // to it (hand sign-extension to 2W bits made Yosys build 2W x 2W).
      wire signed [W-1:0]  w_s = weight_q[b*W +: W];
      wire signed [W-1:0]  x_s = operand[b*W +: W];
      wire signed [PW-1:0] p_s = w_s * x_s;
      assign prod_d[b*PW +: PW] = p_s;
    end
  endgenerate

  bbs_delay #(.WIDTH(K*PW), .DEPTH({{ p.mult_stages }})) u_mult_pipe (
    .clk_i (clk_i),
    .rst_ni(rst_ni),
    .d_i   (prod_d),
    .q_o   (prod_q)
  );

  // ---- Adder tree ----
  wire [TW-1:0] tree_sum;

  bbs_adder_tree u_tree (
    .prod_i(prod_q),
    .sum_o (tree_sum)
  );
{% if p.adder_stages > 0 %}
  wire [TW-1:0] tree_sum_q;

  bbs_delay #(.WIDTH(TW), .DEPTH({{ p.adder_stages }})) u_tree_pipe (
    .clk_i (clk_i),
    .rst_ni(rst_ni),
    .d_i   (tree_sum),
    .q_o   (tree_sum_q)
  );
{% else %}
  wire [TW-1:0] tree_sum_q = tree_sum;
{% endif %}
  // ---- Accumulator (wraps modulo 2^A) ----
  wire             acc_valid = tag_acc[TAG_W-1];
  wire             acc_first = tag_acc[TAG_W-2];
  wire             acc_last  = tag_acc[TAG_W-3];
  wire             acc_row_ok = tag_acc[TAG_W-4];
  wire [{{ p.w.local_row - 1 }}:0] acc_row = tag_acc[{{ p.w.local_row - 1 }}:0];
{%- if p.w.acc > p.w.tree %}
  wire [A-1:0]     tree_ext = { { (A-TW){tree_sum_q[TW-1]} }, tree_sum_q };
{%- else %}
  wire [A-1:0]     tree_ext = tree_sum_q;
{%- endif %}

  reg  [A-1:0]     acc_q, acc_d;
  reg              wr_en_q;
  reg  [{{ p.w.local_row - 1 }}:0] wr_row_q;

  always @(*) begin
    acc_d = acc_q;
    if (acc_valid) begin
      acc_d = acc_first ? tree_ext : acc_q + tree_ext;
    end
  end

  always @(posedge clk_i) begin
    if (!rst_ni) begin
      acc_q    <= {A{1'b0}};
      wr_en_q  <= 1'b0;
      wr_row_q <= {{ p.w.local_row }}'d0;
    end else begin
      acc_q    <= acc_d;
      wr_en_q  <= acc_valid & acc_last & acc_row_ok;
      wr_row_q <= acc_row;
    end
  end

  // ---- Round half up, shift by F, saturate to W bits ----
  localparam [A:0] ROUND_HALF = {{ p.round_half }};
  wire [A:0]   acc_rounded = {acc_q[A-1], acc_q} + ROUND_HALF;
  wire [A-F:0] acc_shifted = acc_rounded[A:F];
{%- if p.frac_bits > 0 %}
  // The bits shifted out are dropped on purpose (lint waiver by name).
  wire         unused_round_bits = ^acc_rounded[F-1:0];
{%- endif %}
  // Saturate when the bits above the output's sign bit are not all copies of it.
  wire         sat_hi = ~acc_shifted[A-F] & (|acc_shifted[A-F-1:W-1]);
  wire         sat_lo =  acc_shifted[A-F] & ~(&acc_shifted[A-F-1:W-1]);
  wire [W-1:0] out_value = sat_hi ? {1'b0, { (W-1){1'b1} }} :
                           sat_lo ? {1'b1, { (W-1){1'b0} }} :
                                    acc_shifted[W-1:0];

  assign res_valid_o = wr_en_q;
  assign res_row_o   = wr_row_q;
  assign res_value_o = out_value;

endmodule
