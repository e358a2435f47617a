{% include "header.v" %}
//
// The overlapped machine's vector memory: {{ p.vm.words }} elements of {{ p.w.value }} bits in {{ p.vm.banks }}
// bank(s) of {{ p.vm.bank_depth }} (bbs_vbank): element e lives in bank e % {{ p.vm.banks }}, row e / {{ p.vm.banks }}.
// The units work at the same time, so every unit has ports of its own:
//   run ports ({{ p.ov.runs }}): asynchronous reads of {{ p.vm.banks }} consecutive elements from
//              run_addr_i's address: EWOP a, EWOP b, store{% if p.ov.act_unit %}, ACT{% endif %}.
//   load ports ({{ p.banks }}): asynchronous reads of one element each (the SpMxV
//              vector load: one element of each matrix bank).
//   write groups ({{ p.ov.groups }}): DMA in, PE results, EWOP{% if p.ov.act_unit %}, ACT{% endif %}; each writes a run
//              of at most {{ p.vm.banks }} consecutive elements, so it touches a bank at most
//              once, and each bank has one write port per group.
// No two groups write one element in the same cycle: the program's waits
// order every two writers of an element (the validator checks it).
// Each bank has {{ p.ov.runs }} + {{ p.banks }} read ports and {{ p.ov.groups }} write ports.
// Bank b is preloaded from vmem_b<b>.hex (biases, initial states).

module bbs_vmem (
  input  wire                                                  clk_i,
  input  wire [{{ p.ov.runs * p.w.vaddr - 1 }}:0]              run_addr_i,
  output wire [{{ p.ov.runs * p.vm.banks * p.w.value - 1 }}:0] run_data_o,
  input  wire [{{ p.banks * p.w.vaddr - 1 }}:0]                load_addr_i,
  output wire [{{ p.banks * p.w.value - 1 }}:0]                load_data_o,
  input  wire [{{ p.ov.groups * p.vm.banks - 1 }}:0]           we_i,
  input  wire [{{ p.ov.groups * p.vm.banks * p.w.vaddr - 1 }}:0] waddr_i,
  input  wire [{{ p.ov.groups * p.vm.banks * p.w.value - 1 }}:0] wdata_i
);

  localparam integer W = {{ p.w.value }};
  localparam integer AW = {{ p.w.vaddr }};
  localparam integer RW = {{ p.w.vbank_row }};
  localparam integer SB = {{ p.w.vbank_sel }};
  localparam integer VB = {{ p.vm.banks }};
  localparam integer K = {{ p.banks }};
  localparam integer NRUN = {{ p.ov.runs }};
  localparam integer NG = {{ p.ov.groups }};
  localparam integer NR = NRUN + K;

  // Every bank's read data, port by port: bank n's port r at (n * NR + r) * W.
  wire [VB*NR*W-1:0] rdata;

  localparam integer SBW = (SB > 0) ? SB : 1;

  // (bank, row) of an element address (each takes its own bits).
  /* verilator lint_off UNUSEDSIGNAL */
  function automatic [RW-1:0] row_of(input [AW-1:0] a);
    row_of = a[AW-1:AW-RW];
  endfunction
  function automatic [SBW-1:0] bank_of(input [AW-1:0] a);
{%- if p.w.vbank_sel > 0 %}
    bank_of = a[SBW-1:0];
{%- else %}
    bank_of = {SBW{1'b0}} & {SBW{^a}};
{%- endif %}
  endfunction
  /* verilator lint_on UNUSEDSIGNAL */

  genvar r;
  genvar l;
  generate
{%- for n in p.vbank_list %}
    if (1) begin : g_bank{{ n }}
      localparam [SBW-1:0] Bank = {{ p.w.vbank_sel.max(1) }}'d{{ n }};
      reg [NG-1:0]    we;
      reg [NG*RW-1:0] waddr;
      reg [NG*W-1:0]  wdata;
      integer g;
      integer i;
      always @(*) begin
        we    = {NG{1'b0}};
        waddr = {(NG*RW){1'b0}};
        wdata = {(NG*W){1'b0}};
        for (g = 0; g < NG; g = g + 1) begin
          for (i = 0; i < VB; i = i + 1) begin
            if (we_i[g*VB + i] &&
                (bank_of(waddr_i[(g*VB + i)*AW +: AW]) == Bank)) begin
              we[g] = 1'b1;
              waddr[g*RW +: RW] = row_of(waddr_i[(g*VB + i)*AW +: AW]);
              wdata[g*W +: W] = wdata_i[(g*VB + i)*W +: W];
            end
          end
        end
      end
      wire [NR*RW-1:0] raddr;
      for (r = 0; r < NRUN; r = r + 1) begin : g_run_row
        // A run holds this bank's element in its first element's row, or
        // the next row when it starts past this bank.
        wire [AW-1:0] first = run_addr_i[r*AW +: AW];
{%- if n + 1 < p.vbank_list.len() %}
        wire [RW-1:0] next = (bank_of(first) > Bank) ? {{ p.w.vbank_row }}'d1 : {{ p.w.vbank_row }}'d0;
{%- else %}
        wire [RW-1:0] next = {{ p.w.vbank_row }}'d0;
{%- endif %}
        assign raddr[r*RW +: RW] = row_of(first) + next;
      end
      for (r = 0; r < K; r = r + 1) begin : g_load_row
        assign raddr[(NRUN + r)*RW +: RW] = row_of(load_addr_i[r*AW +: AW]);
      end
      bbs_vbank #(
        .WIDTH(W),
        .DEPTH({{ p.vm.bank_depth }}),
        .ADDR_W(RW),
        .NR(NR),
        .NWP(NG),
        .INIT_FILE("vmem_b{{ n }}.hex")
      ) u_bank (
        .clk_i  (clk_i),
        .we_i   (we),
        .waddr_i(waddr),
        .wdata_i(wdata),
        .raddr_i(raddr),
        .rdata_o(rdata[{{ n }}*NR*W +: NR*W])
      );
    end
{%- endfor %}
    // Crossbar: lane l of a run takes bank (first + l) mod VB; load port r
    // takes the bank its address names.
    for (r = 0; r < NRUN; r = r + 1) begin : g_run
      wire [AW-1:0] first = run_addr_i[r*AW +: AW];
      for (l = 0; l < VB; l = l + 1) begin : g_lane
        localparam [SBW-1:0] L = l;
        wire [SBW-1:0] bank = bank_of(first) + L;
        reg [W-1:0] d;
        integer m;
        always @(*) begin
          d = {W{1'b0}};
          for (m = 0; m < VB; m = m + 1) begin
            if (bank == m[SBW-1:0]) d = rdata[(m*NR + r)*W +: W];
          end
        end
        assign run_data_o[(r*VB + l)*W +: W] = d;
      end
    end
    for (r = 0; r < K; r = r + 1) begin : g_load
      wire [SBW-1:0] bank = bank_of(load_addr_i[r*AW +: AW]);
      reg [W-1:0] d;
      integer m;
      always @(*) begin
        d = {W{1'b0}};
        for (m = 0; m < VB; m = m + 1) begin
          if (bank == m[SBW-1:0]) d = rdata[(m*NR + NRUN + r)*W +: W];
        end
      end
      assign load_data_o[r*W +: W] = d;
    end
  endgenerate

endmodule
