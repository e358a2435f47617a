{% include "header.v" %}
//
// The vector memory: {{ p.vm.words }} elements of {{ p.w.value }} bits holding inputs, states,
// gates, biases and temporaries, in {{ p.vm.banks }} bank(s) of {{ p.vm.bank_depth }} (bbs_vbank): element e
// lives in bank e % {{ p.vm.banks }}, row e / {{ p.vm.banks }}.
//   A ports ({{ p.vm.ports_a }}): asynchronous reads. With a_run_i they are a run of consecutive
//            elements from a_addr_i's first address (EWOP a, ACT, store);
//            without, the SpMxV vector load's {{ p.banks }} independent addresses.
//   B ports ({{ p.vm.ports_b }}): asynchronous reads, a run from b_addr_i's first address (EWOP b).
//   W ports ({{ p.vm.ports_w }}): synchronous writes.
// Why banks: the units write runs of consecutive elements (the PEs' {{ p.pes }} results,
// the EWOP/ACT unit's {{ p.lanes }} lanes, a DMA beat of {{ p.beat_el }}), never more than {{ p.vm.banks }}, so a run
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
  input  wire [{{ p.vm.ports_a * p.w.vaddr - 1 }}:0] a_addr_i,
  output wire [{{ p.vm.ports_a * p.w.value - 1 }}:0] a_data_o,
  input  wire [{{ p.vm.ports_b * p.w.vaddr - 1 }}:0] b_addr_i,
  output wire [{{ p.vm.ports_b * p.w.value - 1 }}:0] b_data_o,
  input  wire [{{ p.vm.ports_w - 1 }}:0]             we_i,
  input  wire [{{ p.vm.ports_w * p.w.vaddr - 1 }}:0] waddr_i,
  input  wire [{{ p.vm.ports_w * p.w.value - 1 }}:0] wdata_i
);

  localparam integer W = {{ p.w.value }};
  localparam integer AW = {{ p.w.vaddr }};
  localparam integer RW = {{ p.w.vbank_row }};
  localparam integer K = {{ p.banks }};
  // Read ports of every bank: run a, run b, then the K load addresses.
  localparam integer NR = K + 2;
  localparam integer NW = {{ p.vm.ports_w }};

  // The runs' first elements, and each load address, as (bank, row).
  wire [AW-1:0] a_first = a_addr_i[AW-1:0];
  wire [AW-1:0] b_first = b_addr_i[AW-1:0];
{%- if p.w.vaddr > p.w.vbank_sel %}
  wire [RW-1:0] a_first_row = a_first[AW-1:{{ p.w.vbank_sel }}];
  wire [RW-1:0] b_first_row = b_first[AW-1:{{ p.w.vbank_sel }}];
{%- else %}
  wire [RW-1:0] a_first_row = {RW{1'b0}};
  wire [RW-1:0] b_first_row = {RW{1'b0}};
  wire unused_first = ^{a_first, b_first};
{%- endif %}
{%- if p.w.vbank_sel > 0 %}
  wire [{{ p.w.vbank_sel - 1 }}:0] a_first_bank = a_first[{{ p.w.vbank_sel - 1 }}:0];
  wire [{{ p.w.vbank_sel - 1 }}:0] b_first_bank = b_first[{{ p.w.vbank_sel - 1 }}:0];
{%- endif %}
  wire [K*RW-1:0] load_row;

  genvar g;
  generate
    for (g = 0; g < K; g = g + 1) begin : g_load_row
{%- if p.w.vaddr > p.w.vbank_sel %}
      assign load_row[g*RW +: RW] = a_addr_i[g*AW + {{ p.w.vbank_sel }} +: RW];
{%- else %}
      assign load_row[g*RW +: RW] = {RW{1'b0}};
{%- endif %}
    end
  endgenerate

  integer i;
{% for n in p.vbank_list %}
  // ---- Bank {{ n }}: elements {{ n }}, {{ n }} + {{ p.vm.banks }}, ... ----
  reg          bank{{ n }}_we;
  reg [RW-1:0] bank{{ n }}_waddr;
  reg [W-1:0]  bank{{ n }}_wdata;
  wire [NR*W-1:0] bank{{ n }}_rdata;
{%- if p.w.vbank_sel > 0 && n + 1 < p.vbank_list.len() %}
  // A run holds this bank's element in the first one's row, or the next row
  // when it starts past this bank.
  wire [RW-1:0] bank{{ n }}_a_row = a_first_row + ((a_first_bank > {{ p.w.vbank_sel }}'d{{ n }}) ? {{ p.w.vbank_row }}'d1 : {{ p.w.vbank_row }}'d0);
  wire [RW-1:0] bank{{ n }}_b_row = b_first_row + ((b_first_bank > {{ p.w.vbank_sel }}'d{{ n }}) ? {{ p.w.vbank_row }}'d1 : {{ p.w.vbank_row }}'d0);
{%- else %}
  wire [RW-1:0] bank{{ n }}_a_row = a_first_row;
  wire [RW-1:0] bank{{ n }}_b_row = b_first_row;
{%- endif %}

  always @(*) begin
    bank{{ n }}_we    = 1'b0;
    bank{{ n }}_waddr = {RW{1'b0}};
    bank{{ n }}_wdata = {W{1'b0}};
    for (i = 0; i < NW; i = i + 1) begin
{%- if p.w.vbank_sel > 0 %}
      if (we_i[i] && (waddr_i[i*AW +: {{ p.w.vbank_sel }}] == {{ p.w.vbank_sel }}'d{{ n }})) begin
{%- else %}
      if (we_i[i]) begin
{%- endif %}
        bank{{ n }}_we    = 1'b1;
{%- if p.w.vaddr > p.w.vbank_sel %}
        bank{{ n }}_waddr = waddr_i[i*AW + {{ p.w.vbank_sel }} +: RW];
{%- endif %}
        bank{{ n }}_wdata = wdata_i[i*W +: W];
      end
    end
  end

  bbs_vbank #(
    .WIDTH(W),
    .DEPTH({{ p.vm.bank_depth }}),
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
  // ---- Crossbar: lane g of a run takes bank (first + g) mod {{ p.vm.banks }}; load port g
  // takes the bank its own address names. ----
  generate
    for (g = 0; g < {{ p.vm.ports_a }}; g = g + 1) begin : g_a
      reg [W-1:0] run_data;
      reg [W-1:0] load_data;
{%- if p.w.vbank_sel > 0 %}
      wire [{{ p.w.vbank_sel - 1 }}:0] run_bank = a_first_bank + g[{{ p.w.vbank_sel - 1 }}:0];
      wire [{{ p.w.vbank_sel - 1 }}:0] load_bank = a_addr_i[g*AW +: {{ p.w.vbank_sel }}];
      always @(*) begin
        case (run_bank)
{%- for n in p.vbank_list %}
          {{ p.w.vbank_sel }}'d{{ n }}: run_data = bank{{ n }}_rdata[0 +: W];
{%- endfor %}
          default: run_data = {W{1'b0}};
        endcase
        load_data = {W{1'b0}};
        if (g < K) begin
          case (load_bank)
{%- for n in p.vbank_list %}
            {{ p.w.vbank_sel }}'d{{ n }}: load_data = bank{{ n }}_rdata[((g % K) + 2)*W +: W];
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
    for (g = 0; g < {{ p.vm.ports_b }}; g = g + 1) begin : g_b
{%- if p.w.vbank_sel > 0 %}
      reg [W-1:0] run_data;
      wire [{{ p.w.vbank_sel - 1 }}:0] run_bank = b_first_bank + g[{{ p.w.vbank_sel - 1 }}:0];
      always @(*) begin
        case (run_bank)
{%- for n in p.vbank_list %}
          {{ p.w.vbank_sel }}'d{{ n }}: run_data = bank{{ n }}_rdata[W +: W];
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
