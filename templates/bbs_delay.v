{% include "header.v" %}
//
// A chain of DEPTH (>= 1) registers with synchronous active-low reset: the
// pipeline stages of the PE datapath and of the tags that travel beside it.

module bbs_delay #(
  parameter integer WIDTH = 1,
  parameter integer DEPTH = 1
) (
  input  wire             clk_i,
  input  wire             rst_ni,
  input  wire [WIDTH-1:0] d_i,
  output wire [WIDTH-1:0] q_o
);

  reg [WIDTH-1:0] stage_q [0:DEPTH-1];
  integer i;

  always @(posedge clk_i) begin
    if (!rst_ni) begin
      for (i = 0; i < DEPTH; i = i + 1) begin
        stage_q[i] <= {WIDTH{1'b0}};
      end
    end else begin
      stage_q[0] <= d_i;
      for (i = 1; i < DEPTH; i = i + 1) begin
        stage_q[i] <= stage_q[i-1];
      end
    end
  end

  assign q_o = stage_q[DEPTH-1];

endmodule
