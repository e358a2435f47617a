{% include "header.v" %}
//
// The vector memory: {{ p.vmem_depth }} elements of {{ p.value_w }} bits holding inputs, states,
// gates, biases and temporaries. It is a register file, not a block RAM,
// because the units need many element-addressed ports at once: the SpMxV
// vector load reads one element of every bank ({{ p.banks }}, strided by the bank
// size), the EWOP unit reads {{ p.lanes }} a and {{ p.lanes }} b elements, and the PEs write
// {{ p.pes }} results in one cycle.
//   A ports ({{ p.ports_a }}): combinational reads (SpMxV load, EWOP a, ACT, store).
//   B ports ({{ p.ports_b }}): combinational reads (EWOP b).
//   W ports ({{ p.ports_w }}): synchronous writes; instructions never overlap, so no
//   two ports write one element in the same cycle.
// INIT_FILE, when not empty, preloads biases and initial states ($readmemh).

module bbs_vmem #(
  parameter INIT_FILE = ""
) (
  input  wire                                         clk_i,
  input  wire [{{ p.ports_a * p.vaddr_w - 1 }}:0] a_addr_i,
  output wire [{{ p.ports_a * p.value_w - 1 }}:0] a_data_o,
  input  wire [{{ p.ports_b * p.vaddr_w - 1 }}:0] b_addr_i,
  output wire [{{ p.ports_b * p.value_w - 1 }}:0] b_data_o,
  input  wire [{{ p.ports_w - 1 }}:0]             we_i,
  input  wire [{{ p.ports_w * p.vaddr_w - 1 }}:0] waddr_i,
  input  wire [{{ p.ports_w * p.value_w - 1 }}:0] wdata_i
);

  localparam integer W = {{ p.value_w }};
  localparam integer AW = {{ p.vaddr_w }};
  localparam integer DEPTH = {{ p.vmem_depth }};

  reg [W-1:0] mem_q [0:DEPTH-1];

  generate
    if (INIT_FILE != "") begin : g_init
      initial $readmemh(INIT_FILE, mem_q);
    end
  endgenerate

  integer i;

  always @(posedge clk_i) begin
    for (i = 0; i < {{ p.ports_w }}; i = i + 1) begin
      if (we_i[i]) begin
        mem_q[waddr_i[i*AW +: AW]] <= wdata_i[i*W +: W];
      end
    end
  end

  genvar g;
  generate
    for (g = 0; g < {{ p.ports_a }}; g = g + 1) begin : g_port_a
      assign a_data_o[g*W +: W] = mem_q[a_addr_i[g*AW +: AW]];
    end
    for (g = 0; g < {{ p.ports_b }}; g = g + 1) begin : g_port_b
      assign b_data_o[g*W +: W] = mem_q[b_addr_i[g*AW +: AW]];
    end
  endgenerate

endmodule
