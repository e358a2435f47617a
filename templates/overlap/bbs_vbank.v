{% include "header.v" %}
//
// One bank of the overlapped machine's vector memory: NWP write ports (one
// per writer group; the program never has two of them write one element in
// a cycle) and NR asynchronous read ports. Preloaded from INIT_FILE.

module bbs_vbank #(
  parameter integer WIDTH = 8,
  parameter integer DEPTH = 16,
  parameter integer ADDR_W = 4,
  parameter integer NR = 1,
  parameter integer NWP = 1,
  parameter INIT_FILE = ""
) (
  input  wire                  clk_i,
  input  wire [NWP-1:0]        we_i,
  input  wire [NWP*ADDR_W-1:0] waddr_i,
  input  wire [NWP*WIDTH-1:0]  wdata_i,
  input  wire [NR*ADDR_W-1:0]  raddr_i,
  output wire [NR*WIDTH-1:0]   rdata_o
);

  reg [WIDTH-1:0] mem [0:DEPTH-1];

  generate
    if (INIT_FILE != "") begin : g_init
      initial $readmemh(INIT_FILE, mem);
    end
  endgenerate

  integer p;
  always @(posedge clk_i) begin
    for (p = 0; p < NWP; p = p + 1) begin
      if (we_i[p]) begin
        mem[waddr_i[p*ADDR_W +: ADDR_W]] <= wdata_i[p*WIDTH +: WIDTH];
      end
    end
  end

  genvar r;
  generate
    for (r = 0; r < NR; r = r + 1) begin : g_read
      assign rdata_o[r*WIDTH +: WIDTH] = mem[raddr_i[r*ADDR_W +: ADDR_W]];
    end
  endgenerate

endmodule
