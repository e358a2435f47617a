{% include "header.v" %}
//
// The vector memory: {{ p.vmem_depth }} elements of {{ p.value_w }} bits holding inputs, states,
// gates, biases and temporaries, in {{ p.vbanks }} bank(s) of {{ p.vbank_depth }} (bbs_vbank): element e
// lives in bank e % {{ p.vbanks }}, row e / {{ p.vbanks }}.
//   A ports ({{ p.ports_a }}): asynchronous reads. With a_run_i they are a run of consecutive
//            elements from a_addr_i's first address (EWOP a, ACT, store);
//            without, the SpMxV vector load's {{ p.banks }} independent addresses.
//   B ports ({{ p.ports_b }}): asynchronous reads, a run from b_addr_i's first address (EWOP b).
//   W ports ({{ p.ports_w }}): synchronous writes.
// Why banks: the units write runs of consecutive elements (the PEs' {{ p.pes }} results,
// the EWOP/ACT unit's {{ p.lanes }} lanes, a DMA beat of {{ p.beat_el }}), never more than {{ p.vbanks }}, so a run
// touches every bank at most once and each bank needs a single write port: FPGA
// tools map it to distributed RAM (replicated per read port) rather than a
// multi-ported register file. Instructions never overlap, so no two ports
// write one bank in the same cycle. Reads are runs too, except the SpMxV
// load (one element of each matrix bank, strided by the bank size): each bank
// has one read port per run (a, b) and one per load address, {{ p.banks + 2 }} in all, and
// a crossbar hands each lane the element of its bank.
// Bank b is preloaded from vmem_b<b>.hex (biases, initial states).

module bbs_vmem (
  input  wire                                     clk_i,
  input  wire                                     a_run_i,
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
  localparam integer K = {{ p.banks }};
  // Read ports of every bank: run a, run b, then the K load addresses.
  localparam integer NR = K + 2;
  localparam integer NW = {{ p.ports_w }};

  // The runs' first elements, and each load address, as (bank, row).
  wire [AW-1:0] a_first = a_addr_i[AW-1:0];
  wire [AW-1:0] b_first = b_addr_i[AW-1:0];
{%- if p.vaddr_w > p.vbank_sel_w %}
  wire [RW-1:0] a_first_row = a_first[AW-1:{{ p.vbank_sel_w }}];
  wire [RW-1:0] b_first_row = b_first[AW-1:{{ p.vbank_sel_w }}];
{%- else %}
  wire [RW-1:0] a_first_row = {RW{1'b0}};
  wire [RW-1:0] b_first_row = {RW{1'b0}};
  wire unused_first = ^{a_first, b_first};
{%- endif %}
{%- if p.vbank_sel_w > 0 %}
  wire [{{ p.vbank_sel_w - 1 }}:0] a_first_bank = a_first[{{ p.vbank_sel_w - 1 }}:0];
  wire [{{ p.vbank_sel_w - 1 }}:0] b_first_bank = b_first[{{ p.vbank_sel_w - 1 }}:0];
{%- endif %}
  wire [K*RW-1:0] load_row;

  genvar g;
  generate
    for (g = 0; g < K; g = g + 1) begin : g_load_row
{%- if p.vaddr_w > p.vbank_sel_w %}
      assign load_row[g*RW +: RW] = a_addr_i[g*AW + {{ p.vbank_sel_w }} +: RW];
{%- else %}
      assign load_row[g*RW +: RW] = {RW{1'b0}};
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
{%- if p.vbank_sel_w > 0 && n + 1 < p.vbank_list.len() %}
  // A run holds this bank's element in the first one's row, or the next row
  // when it starts past this bank.
  wire [RW-1:0] bank{{ n }}_a_row = a_first_row + ((a_first_bank > {{ p.vbank_sel_w }}'d{{ n }}) ? {{ p.vbank_row_w }}'d1 : {{ p.vbank_row_w }}'d0);
  wire [RW-1:0] bank{{ n }}_b_row = b_first_row + ((b_first_bank > {{ p.vbank_sel_w }}'d{{ n }}) ? {{ p.vbank_row_w }}'d1 : {{ p.vbank_row_w }}'d0);
{%- else %}
  wire [RW-1:0] bank{{ n }}_a_row = a_first_row;
  wire [RW-1:0] bank{{ n }}_b_row = b_first_row;
{%- endif %}

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
    .raddr_i({load_row, bank{{ n }}_b_row, bank{{ n }}_a_row}),
    .rdata_o(bank{{ n }}_rdata)
  );
{% endfor %}
  // ---- Crossbar: lane g of a run takes bank (first + g) mod {{ p.vbanks }}; load port g
  // takes the bank its own address names. ----
  generate
    for (g = 0; g < {{ p.ports_a }}; g = g + 1) begin : g_a
      reg [W-1:0] run_data;
      reg [W-1:0] load_data;
{%- if p.vbank_sel_w > 0 %}
      wire [{{ p.vbank_sel_w - 1 }}:0] run_bank = a_first_bank + g[{{ p.vbank_sel_w - 1 }}:0];
      wire [{{ p.vbank_sel_w - 1 }}:0] load_bank = a_addr_i[g*AW +: {{ p.vbank_sel_w }}];
      always @(*) begin
        case (run_bank)
{%- for n in p.vbank_list %}
          {{ p.vbank_sel_w }}'d{{ n }}: run_data = bank{{ n }}_rdata[0 +: W];
{%- endfor %}
          default: run_data = {W{1'b0}};
        endcase
        load_data = {W{1'b0}};
        if (g < K) begin
          case (load_bank)
{%- for n in p.vbank_list %}
            {{ p.vbank_sel_w }}'d{{ n }}: load_data = bank{{ n }}_rdata[((g % K) + 2)*W +: W];
{%- endfor %}
            default: load_data = {W{1'b0}};
          endcase
        end
      end
{%- else %}
      always @(*) begin
        run_data = bank0_rdata[0 +: W];
        load_data = (g < K) ? bank0_rdata[((g % K) + 2)*W +: W] : {W{1'b0}};
      end
{%- endif %}
      assign a_data_o[g*W +: W] = a_run_i ? run_data : load_data;
    end
    for (g = 0; g < {{ p.ports_b }}; g = g + 1) begin : g_b
{%- if p.vbank_sel_w > 0 %}
      reg [W-1:0] run_data;
      wire [{{ p.vbank_sel_w - 1 }}:0] run_bank = b_first_bank + g[{{ p.vbank_sel_w - 1 }}:0];
      always @(*) begin
        case (run_bank)
{%- for n in p.vbank_list %}
          {{ p.vbank_sel_w }}'d{{ n }}: run_data = bank{{ n }}_rdata[W +: W];
{%- endfor %}
          default: run_data = {W{1'b0}};
        endcase
      end
      assign b_data_o[g*W +: W] = run_data;
{%- else %}
      assign b_data_o[g*W +: W] = bank0_rdata[W +: W];
{%- endif %}
    end
  endgenerate

  // Only the first address of a run is used; the top computes them all.
  wire unused_run_addrs = ^{a_addr_i, b_addr_i};

endmodule
