{% include "header.v" %}
//
// The EWOP and ACT unit: {{ p.lanes }} lane(s), each doing one element per cycle, then
// {{ p.ew_latency }} pipeline register stage(s) before the vector-memory write.
//   op_i: {{ p.unit_add }} add, {{ p.unit_sub }} sub (exact, then saturated), {{ p.unit_mul }} mul (rounded half up back to
//         {{ p.frac_bits }} fraction bits, saturated), {{ p.unit_copy }} copy, {{ p.unit_sigmoid }} sigmoid, {{ p.unit_tanh }} tanh, {{ p.unit_relu }} relu.
// Relu is max(a, 0): exact, no table.
// Sigmoid and tanh are the simulator's piecewise-linear tables
// (bbs_sim::act): clamp x to the table, segment s = (x - x_min) >> {{ p.w.act_step_log2 }},
// offset d = the low bits, y = base[s] + round_half_up(slope[s] * d >> {{ p.frac_bits }}),
// saturated to {{ p.w.value }} bits.

module bbs_ewop (
  input  wire                                      clk_i,
  input  wire                                      rst_ni,
  input  wire                                      valid_i,
  input  wire [{{ p.w.unit_op - 1 }}:0]                                op_i,
  input  wire [{{ p.lanes - 1 }}:0]                lane_ok_i,
  input  wire [{{ p.w.vaddr - 1 }}:0]              waddr_i,
  input  wire [{{ p.lanes * p.w.value - 1 }}:0]    a_i,
  input  wire [{{ p.lanes * p.w.value - 1 }}:0]    b_i,
  output wire [{{ p.lanes - 1 }}:0]                we_o,
  output wire [{{ p.w.vaddr - 1 }}:0]              waddr_o,
  output wire [{{ p.lanes * p.w.value - 1 }}:0]    wdata_o
);

  localparam integer L = {{ p.lanes }};
  localparam integer W = {{ p.w.value }};
  localparam integer F = {{ p.frac_bits }};
  localparam integer PW = 2 * W;
  localparam integer SW = {{ p.w.act_slope }};
  localparam integer SL = {{ p.w.act_step_log2 }};
  localparam integer APW = {{ p.w.act_prod }};
  localparam integer ARW = {{ p.w.act_r }};
  localparam integer AYW = {{ p.w.act_y }};
  localparam [W-1:0] MaxV = {1'b0, {(W-1){1'b1}}};
  localparam [W-1:0] MinV = {1'b1, {(W-1){1'b0}}};
  localparam [W:0] XMin = {{ p.act_x_min }};
  localparam [W:0] XMax = {{ p.act_x_max }};
  localparam [PW:0] MulHalf = {{ p.mul_half }};
  localparam [APW:0] ActHalf = {{ p.act_half }};

  wire [L*W-1:0] y;

  genvar g;
  generate
    for (g = 0; g < L; g = g + 1) begin : g_lane
      wire [W-1:0] a = a_i[g*W +: W];
      wire [W-1:0] b = b_i[g*W +: W];

      // add, sub: W+1 exact bits; saturate when the top two differ.
      wire [W:0] sum = {a[W-1], a} + {b[W-1], b};
      wire [W:0] dif = {a[W-1], a} - {b[W-1], b};
      wire [W-1:0] sum_s = (sum[W] != sum[W-1]) ? (sum[W] ? MinV : MaxV) : sum[W-1:0];
      wire [W-1:0] dif_s = (dif[W] != dif[W-1]) ? (dif[W] ? MinV : MaxV) : dif[W-1:0];

      // mul: exact 2W-bit product, round half up, shift by F, saturate.
      wire signed [W-1:0]  a_s = a;
      wire signed [W-1:0]  b_s = b;
      wire signed [PW-1:0] prod = a_s * b_s;
      wire [PW:0]   prod_r = {prod[PW-1], prod} + MulHalf;
      wire [PW-F:0] prod_sh = prod_r[PW:F];
{%- if p.frac_bits > 0 %}
      wire          unused_mul_bits = ^prod_r[F-1:0];
{%- endif %}
      wire mul_hi = ~prod_sh[PW-F] & (|prod_sh[PW-F-1:W-1]);
      wire mul_lo =  prod_sh[PW-F] & ~(&prod_sh[PW-F-1:W-1]);
      wire [W-1:0] mul_s = mul_hi ? MaxV : mul_lo ? MinV : prod_sh[W-1:0];

      // act: clamp to the table, split into segment and offset.
      wire [W:0] xe = {a[W-1], a};
      wire x_lo = $signed(xe) < $signed(XMin);
      wire x_hi = $signed(xe) > $signed(XMax);
      wire [W:0] xc = x_lo ? XMin : x_hi ? XMax : xe;
      wire [W:0] rel = xc - XMin;
      wire [W:0] seg_full = rel >> SL;
{%- if p.w.value + 1 >= p.w.act_seg %}
      wire [{{ p.w.act_seg - 1 }}:0] seg = seg_full[{{ p.w.act_seg - 1 }}:0];
{%- if p.w.value + 1 > p.w.act_seg %}
      wire       unused_seg_bits = ^seg_full[W:{{ p.w.act_seg }}];
{%- endif %}
{%- else %}
      wire [{{ p.w.act_seg - 1 }}:0] seg = { {{ p.w.act_seg - p.w.value - 1 }}'d0, seg_full };
{%- endif %}
{%- if p.w.act_step_log2 > 0 %}
      wire [SL:0] d = {1'b0, rel[SL-1:0]};
{%- else %}
      wire [0:0]  d = 1'b0;
{%- endif %}
      wire [SW-1:0] slope;
      wire [W-1:0]  base;

      bbs_act_lut u_lut (
        .func_i (op_i[0]),
        .seg_i  (seg),
        .slope_o(slope),
        .base_o (base)
      );

      wire signed [SW-1:0]  slope_s = slope;
      wire signed [SL:0]    d_s = d;
      wire signed [APW-1:0] sprod = slope_s * d_s;
      wire [APW:0]   sprod_r = {sprod[APW-1], sprod} + ActHalf;
      wire [ARW-1:0] r = sprod_r[APW:F];
{%- if p.frac_bits > 0 %}
      wire           unused_act_bits = ^sprod_r[F-1:0];
{%- endif %}
      wire [AYW-1:0] act_y = { {(AYW-W){base[W-1]}}, base } + { {(AYW-ARW){r[ARW-1]}}, r };
      wire act_hi = ~act_y[AYW-1] & (|act_y[AYW-2:W-1]);
      wire act_lo =  act_y[AYW-1] & ~(&act_y[AYW-2:W-1]);
      wire [W-1:0] act_s = act_hi ? MaxV : act_lo ? MinV : act_y[W-1:0];

      reg [W-1:0] y_d;
      always @(*) begin
        case (op_i)
          {{ p.w.unit_op }}'d{{ p.unit_add }}:    y_d = sum_s;
          {{ p.w.unit_op }}'d{{ p.unit_sub }}:    y_d = dif_s;
          {{ p.w.unit_op }}'d{{ p.unit_mul }}:    y_d = mul_s;
          {{ p.w.unit_op }}'d{{ p.unit_copy }}:    y_d = a;
          {{ p.w.unit_op }}'d{{ p.unit_relu }}:    y_d = a[W-1] ? {W{1'b0}} : a;
          default: y_d = act_s;
        endcase
      end
      assign y[g*W +: W] = y_d;
    end
  endgenerate

  wire [L-1:0] we_d = valid_i ? lane_ok_i : {L{1'b0}};
{%- if p.ew_latency > 0 %}

  bbs_delay #(.WIDTH(L + {{ p.w.vaddr }} + L*W), .DEPTH({{ p.ew_latency }})) u_pipe (
    .clk_i (clk_i),
    .rst_ni(rst_ni),
    .d_i   ({we_d, waddr_i, y}),
    .q_o   ({we_o, waddr_o, wdata_o})
  );
{%- else %}
  // No pipeline registers: the result is written in the cycle it is read.
  wire unused_clk = clk_i ^ rst_ni;
  assign we_o    = we_d;
  assign waddr_o = waddr_i;
  assign wdata_o = y;
{%- endif %}

endmodule
