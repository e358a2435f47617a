{% include "header.v" %}
//
// The ACT unit's table: for function func_i (0 sigmoid, 1 tanh) and segment
// seg_i of the piecewise-linear approximation over [-8, 8) (128 segments),
// the segment's slope and its value at the left knot, as Q{{ p.value_w }}.{{ p.frac_bits }} integers.
// The same integers as bbs_sim::act::ActTable, so the RTL is bit-exact.

module bbs_act_lut (
  input  wire                              func_i,
  input  wire [6:0]                        seg_i,
  output wire [{{ p.act_slope_w - 1 }}:0]  slope_o,
  output wire [{{ p.value_w - 1 }}:0]      base_o
);

  reg [{{ p.act_slope_w + p.value_w - 1 }}:0] rom_d;

  always @(*) begin
    case ({func_i, seg_i})
{%- for line in p.act_lines %}
      {{ line }}
{%- endfor %}
      default: rom_d = {{ p.act_slope_w + p.value_w }}'d0;
    endcase
  end

  assign slope_o = rom_d[{{ p.act_slope_w + p.value_w - 1 }}:{{ p.value_w }}];
  assign base_o  = rom_d[{{ p.value_w - 1 }}:0];

endmodule
