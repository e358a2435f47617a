{% include "header.v" %}
//
// Combinational {{ p.banks }}-input adder tree over the products of one CSB word.
// Every level widens by one bit with explicit sign extension, so the sum is
// exact: {{ p.w.prod }}-bit products, {{ p.w.tree }}-bit sum.

module bbs_adder_tree (
  input  wire [{{ p.banks * p.w.prod - 1 }}:0] prod_i,
  output wire [{{ p.w.tree - 1 }}:0] sum_o
);

{%- for line in p.tree_lines %}
  {{ line }}
{%- endfor %}

endmodule
