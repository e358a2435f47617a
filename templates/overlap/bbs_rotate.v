{% include "header.v" %}
//
// Rotates N words of W bits by a variable number of words: right (word l
// of the result is word (l + shift) mod N of the input; LEFT = 0), or left
// (word l is word (l - shift) mod N; LEFT = 1). log2(N) stages of 2:1
// multiplexers, where a multiplexer per word picking among all N would grow
// with N squared: the vector memory's ports use it to line a run's
// consecutive elements up with the banks that hold them (bbs_vmem).

module bbs_rotate #(
  parameter integer N = 2,
  parameter integer W = 1,
  parameter integer SW = 1,
  parameter integer LEFT = 0
) (
  input  wire [N*W-1:0] data_i,
  input  wire [SW-1:0]  shift_i,
  output wire [N*W-1:0] data_o
);

  // Stage s's input at s * N * W; the last stage's output is data_o.
  wire [(SW+1)*N*W-1:0] stage /* verilator split_var */;
  assign stage[0 +: N*W] = data_i;

  genvar s;
  generate
    for (s = 0; s < SW; s = s + 1) begin : g_stage
      localparam integer K = ((1 << s) % N) * W;
      wire [N*W-1:0] prev = stage[s*N*W +: N*W];
      wire [N*W-1:0] rotated;
      if (K == 0) begin : g_none
        assign rotated = prev;
      end else if (LEFT != 0) begin : g_left
        assign rotated = {prev[N*W-K-1:0], prev[N*W-1:N*W-K]};
      end else begin : g_right
        assign rotated = {prev[K-1:0], prev[N*W-1:K]};
      end
      assign stage[(s+1)*N*W +: N*W] = shift_i[s] ? rotated : prev;
    end
  endgenerate

  assign data_o = stage[SW*N*W +: N*W];

endmodule
