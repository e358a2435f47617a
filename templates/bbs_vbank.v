{% include "header.v" %}
//
// One bank of the vector memory: DEPTH words of WIDTH bits, one synchronous
// write port and NR asynchronous read ports (distributed RAM; synthesis
// replicates it per read port). INIT_FILE, when not empty, preloads it.

module bbs_vbank #(
  parameter integer WIDTH = 8,
  parameter integer DEPTH = 16,
  parameter integer ADDR_W = 4,
  parameter integer NR = 1,
  parameter INIT_FILE = ""
) (
  input  wire                 clk_i,
  input  wire                 we_i,
  input  wire [ADDR_W-1:0]    waddr_i,
  input  wire [WIDTH-1:0]     wdata_i,
  input  wire [NR*ADDR_W-1:0] raddr_i,
  output wire [NR*WIDTH-1:0]  rdata_o
);

  reg [WIDTH-1:0] mem [0:DEPTH-1];

  generate
    if (INIT_FILE != "") begin : g_init
      initial $readmemh(INIT_FILE, mem);
    end
  endgenerate

  always @(posedge clk_i) begin
    if (we_i) begin
      mem[waddr_i] <= wdata_i;
    end
  end

  genvar r;
  generate
    for (r = 0; r < NR; r = r + 1) begin : g_read
      assign rdata_o[r*WIDTH +: WIDTH] = mem[raddr_i[r*ADDR_W +: ADDR_W]];
    end
  endgenerate

endmodule
