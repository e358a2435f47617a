{% include "header.v" %}
//
// The ACT unit's table: for function func_i (0 sigmoid, 1 tanh) and segment
// seg_i of the piecewise-linear approximation over [-{{ p.act_range }}, {{ p.act_range }}) ({{ p.act_segments }} segments),
// the segment's slope and its value at the left knot, as Q{{ p.w.value }}.{{ p.frac_bits }} integers.
// The same integers as bbs_sim::act::ActTable, so the RTL is bit-exact.

module bbs_act_lut (
  input  wire                              func_i,
  input  wire [{{ p.w.act_seg - 1 }}:0]                        seg_i,
  output wire [{{ p.w.act_slope - 1 }}:0]  slope_o,
  output wire [{{ p.w.value - 1 }}:0]      base_o
);

  reg [{{ p.w.act_slope + p.w.value - 1 }}:0] rom_d;

  always @(*) begin
    case ({func_i, seg_i})
{%- for line in p.act_lines %}
      {{ line }}
{%- endfor %}
      default: rom_d = {{ p.w.act_slope + p.w.value }}'d0;
    endcase
  end

  assign slope_o = rom_d[{{ p.w.act_slope + p.w.value - 1 }}:{{ p.w.value }}];
  assign base_o  = rom_d[{{ p.w.value - 1 }}:0];

endmodule
