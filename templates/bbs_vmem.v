{% include "header.v" %}
//
// The vector memory: {{ p.vmem_depth }} elements of {{ p.value_w }} bits holding inputs, states,
// gates, biases and temporaries, in {{ p.vbanks }} bank(s) of {{ p.vbank_depth }} (bbs_vbank): element e
// lives in bank e % {{ p.vbanks }}, row e / {{ p.vbanks }}.
//   A ports ({{ p.ports_a }}): asynchronous reads (SpMxV vector load, EWOP a, ACT, store).
//   B ports ({{ p.ports_b }}): asynchronous reads (EWOP b).
//   W ports ({{ p.ports_w }}): synchronous writes.
// Why banks: the units write runs of consecutive elements (the PEs' {{ p.pes }} results,
// the EWOP/ACT unit's {{ p.lanes }} lanes, a DMA beat of {{ p.beat_el }}), never more than {{ p.vbanks }}, so a run
// touches every bank at most once and each bank needs a single write port: FPGA
// tools map it to distributed RAM (replicated per read port) rather than a
// multi-ported register file. Instructions never overlap, so no two ports
// write one bank in the same cycle. Reads may go anywhere (the SpMxV load reads
// one element of each matrix bank, strided by the bank size): every bank
// serves every read port and each port picks its bank.
// Bank b is preloaded from vmem_b<b>.hex (biases, initial states).

module bbs_vmem (
  input  wire                                     clk_i,
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
  localparam integer RW = {{ p.vbank_row_w }};
  localparam integer NA = {{ p.ports_a }};
  localparam integer NR = {{ p.ports_a + p.ports_b }};
  localparam integer NW = {{ p.ports_w }};

  // Every read address, A ports first, and its row within a bank.
  wire [NR*AW-1:0] raddr = {b_addr_i, a_addr_i};
  wire [NR*RW-1:0] rrow;
  wire [NR*W-1:0]  rdata;

  genvar g;
  generate
    for (g = 0; g < NR; g = g + 1) begin : g_rrow
{%- if p.vaddr_w > p.vbank_sel_w %}
      assign rrow[g*RW +: RW] = raddr[g*AW + {{ p.vbank_sel_w }} +: RW];
{%- else %}
      assign rrow[g*RW +: RW] = {RW{1'b0}};
{%- endif %}
    end
  endgenerate

  integer i;
{% for n in p.vbank_list %}
  // ---- Bank {{ n }}: elements {{ n }}, {{ n }} + {{ p.vbanks }}, ... ----
  reg          bank{{ n }}_we;
  reg [RW-1:0] bank{{ n }}_waddr;
  reg [W-1:0]  bank{{ n }}_wdata;
  wire [NR*W-1:0] bank{{ n }}_rdata;

  always @(*) begin
    bank{{ n }}_we    = 1'b0;
    bank{{ n }}_waddr = {RW{1'b0}};
    bank{{ n }}_wdata = {W{1'b0}};
    for (i = 0; i < NW; i = i + 1) begin
{%- if p.vbank_sel_w > 0 %}
      if (we_i[i] && (waddr_i[i*AW +: {{ p.vbank_sel_w }}] == {{ p.vbank_sel_w }}'d{{ n }})) begin
{%- else %}
      if (we_i[i]) begin
{%- endif %}
        bank{{ n }}_we    = 1'b1;
{%- if p.vaddr_w > p.vbank_sel_w %}
        bank{{ n }}_waddr = waddr_i[i*AW + {{ p.vbank_sel_w }} +: RW];
{%- endif %}
        bank{{ n }}_wdata = wdata_i[i*W +: W];
      end
    end
  end

  bbs_vbank #(
    .WIDTH(W),
    .DEPTH({{ p.vbank_depth }}),
    .ADDR_W(RW),
    .NR(NR),
    .INIT_FILE("vmem_b{{ n }}.hex")
  ) u_bank{{ n }} (
    .clk_i  (clk_i),
    .we_i   (bank{{ n }}_we),
    .waddr_i(bank{{ n }}_waddr),
    .wdata_i(bank{{ n }}_wdata),
    .raddr_i(rrow),
    .rdata_o(bank{{ n }}_rdata)
  );
{% endfor %}
  // Each read port takes its element from the bank its address names.
  generate
    for (g = 0; g < NR; g = g + 1) begin : g_rsel
{%- if p.vbank_sel_w > 0 %}
      reg [W-1:0] data;
      always @(*) begin
        case (raddr[g*AW +: {{ p.vbank_sel_w }}])
{%- for n in p.vbank_list %}
          {{ p.vbank_sel_w }}'d{{ n }}: data = bank{{ n }}_rdata[g*W +: W];
{%- endfor %}
          default: data = {W{1'b0}};
        endcase
      end
      assign rdata[g*W +: W] = data;
{%- else %}
      assign rdata[g*W +: W] = bank0_rdata[g*W +: W];
{%- endif %}
    end
  endgenerate

  assign a_data_o = rdata[NA*W-1:0];
  assign b_data_o = rdata[NR*W-1:NA*W];

endmodule
