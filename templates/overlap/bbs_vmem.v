{% include "header.v" %}
//
// The overlapped machine's vector memory: {{ p.vm.words }} elements of {{ p.w.value }} bits, split among
// its writers (bbs_sim::overlap::regions): each part has one writer, so each
// of its {{ p.vm.banks }} bank(s) (bbs_vbank) has one write port and maps to distributed RAM.
{%- if p.ov.interleaved %}
// Element e lives in bank e % {{ p.vm.banks }}, global row e / {{ p.vm.banks }}, of the part holding it
// (one memory per writer: the vector load reads through a run port):
{%- else %}
// Element e lives in bank e % {{ p.vm.banks }}, global row e / {{ p.vm.banks }}, of the part holding it
// (a writer's words the SpMxV vector load reads, overlap.loadable, are a part
// of their own with the load ports; the rest of its words have none):
{%- endif %}
{%- for q in p.ov.parts %}
//   part {{ loop.index0 }}: rows {{ q.base_row }}..{{ q.base_row + q.depth }} ({{ q.depth }} deep), written by {{ q.name }} (write group {{ q.group }}){% if q.loads %}, loaded{% endif %}
{%- endfor %}
// The units work at the same time, so every unit has ports of its own:
{%- if p.ov.interleaved %}
//   run ports ({{ p.ov.runs }}): asynchronous reads of {{ p.vm.banks }} consecutive elements from
//              run_addr_i's address: EWOP a, EWOP b, store{% if p.ov.act_unit %}, ACT{% endif %}, and the
//              SpMxV vector load (bank-interleaved vectors: a run of {{ p.ov.load_run }} a cycle).
{%- else %}
//   run ports ({{ p.ov.runs }}): asynchronous reads of {{ p.vm.banks }} consecutive elements from
//              run_addr_i's address: EWOP a, EWOP b, store{% if p.ov.act_unit %}, ACT{% endif %}.
//   load ports ({{ p.banks }}): asynchronous reads of one element each (the SpMxV
//              vector load: one element of each matrix bank).
{%- endif %}
//   write groups ({{ p.ov.groups }}): DMA in, PE results, EWOP{% if p.ov.act_unit %}, ACT{% endif %}; each writes a run
//              of at most {{ p.vm.banks }} consecutive elements of its own part (the
//              validator refuses any other write), so it touches a bank once.
{%- if p.ov.interleaved %}
// Every bank has the {{ p.ov.runs }} run ports and no other; a port takes the part its
// element's row falls in. Part q's bank b is preloaded from vmem_p<q>_b<b>.hex.
{%- else %}
// Every bank has the {{ p.ov.runs }} run ports, a loaded part's banks the {{ p.banks }} load ports as
// well; a port takes the part its element's row falls in. Part q's bank b is
// preloaded from vmem_p<q>_b<b>.hex.
{%- endif %}

module bbs_vmem (
  input  wire                                                  clk_i,
  input  wire [{{ p.ov.runs * p.w.vaddr - 1 }}:0]              run_addr_i,
  output wire [{{ p.ov.runs * p.vm.banks * p.w.value - 1 }}:0] run_data_o,
{%- if !p.ov.interleaved %}
  input  wire [{{ p.banks * p.w.vaddr - 1 }}:0]                load_addr_i,
  output wire [{{ p.banks * p.w.value - 1 }}:0]                load_data_o,
{%- endif %}
  input  wire [{{ p.ov.groups * p.vm.banks - 1 }}:0]           we_i,
  input  wire [{{ p.ov.groups * p.vm.banks * p.w.vaddr - 1 }}:0] waddr_i,
  input  wire [{{ p.ov.groups * p.vm.banks * p.w.value - 1 }}:0] wdata_i
);

  localparam integer W = {{ p.w.value }};
  localparam integer AW = {{ p.w.vaddr }};
  localparam integer RW = {{ p.w.vbank_row }};
  localparam integer SB = {{ p.w.vbank_sel }};
  localparam integer VB = {{ p.vm.banks }};
{%- if !p.ov.interleaved %}
  localparam integer K = {{ p.banks }};
{%- endif %}
  localparam integer NRUN = {{ p.ov.runs }};

  // Each part's read data, bank by bank and port by port: bank n's port r
  // at (n * NR + r) * W, NR = NRUN (+ K in a loaded part).
{%- for q in p.ov.parts %}
  wire [VB*{{ q.nr }}*W-1:0] rdata{{ loop.index0 }};
{%- endfor %}

  localparam integer SBW = (SB > 0) ? SB : 1;
  localparam integer QW = {{ p.ov.w_part }};

  // (bank, global row) of an element address (each takes its own bits).
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
  // The part holding global row `row`: the parts' first rows it has passed.
  function automatic [QW-1:0] part_of(input [RW:0] row);
    part_of = {QW{1'b0}}{% for q in p.ov.parts %}{% if loop.index0 > 0 %}
            + ((row >= {{ p.w.vbank_row + 1 }}'d{{ q.base_row }}) ? {{ p.ov.w_part }}'d1 : {{ p.ov.w_part }}'d0){% endif %}{% endfor %};
  endfunction

  // Each writer group writes a run of consecutive elements, lane i the
  // run's element i: rotated left by its first element's bank, lane i
  // lands on bank (first + i) mod VB. A lane is {we, address, data}.
  // (One rotation per writer: a writer's parts share it.)
  localparam integer LW = 1 + AW + W;
{%- for g in p.ov.group_list %}
  wire [VB*LW-1:0] wlane{{ g }};
{%- endfor %}

  genvar r;
  genvar l;
  generate
{%- for g in p.ov.group_list %}
    if (1) begin : g_w{{ g }}
      wire [VB*LW-1:0] lanes;
      for (l = 0; l < VB; l = l + 1) begin : g_lane
        assign lanes[l*LW +: LW] = {we_i[{{ g }}*VB + l],
                                    waddr_i[({{ g }}*VB + l)*AW +: AW],
                                    wdata_i[({{ g }}*VB + l)*W +: W]};
      end
      bbs_rotate #(.N(VB), .W(LW), .SW(SBW), .LEFT(1)) u_rotate (
        .data_i (lanes),
        .shift_i(bank_of(waddr_i[{{ g }}*VB*AW +: AW])),
        .data_o (wlane{{ g }})
      );
    end
{%- endfor %}
{%- for q in p.ov.parts %}
{%- let qi = loop.index0 %}
{%- for n in p.vbank_list %}
    if (1) begin : g_p{{ qi }}_bank{{ n }}
{%- if n + 1 < p.vbank_list.len() %}
      localparam [SBW-1:0] Bank = {{ p.w.vbank_sel.max(1) }}'d{{ n }};
{%- endif %}
      localparam [RW:0] BaseRow = {{ p.w.vbank_row + 1 }}'d{{ q.base_row }};
{%- if q.shared %}
      localparam [RW:0] EndRow = {{ p.w.vbank_row + 1 }}'d{{ q.base_row + q.depth }};
{%- endif %}
      // Write group {{ q.group }}'s lane that holds this bank's element of the run.
      wire [LW-1:0] lane = wlane{{ q.group }}[{{ n }}*LW +: LW];
      wire [RW:0]   wglobal = {1'b0, row_of(lane[W +: AW])};
{%- if q.shared %}
      // The writer has another part: this one takes rows {{ q.base_row }}..{{ q.base_row + q.depth }}.
      wire          we = lane[LW-1]{% if q.base_row > 0 %} && wglobal >= BaseRow{% endif %} && wglobal < EndRow;
{%- else %}
      wire          we = lane[LW-1];
{%- endif %}
      wire [W-1:0]  wdata = lane[W-1:0];
      /* verilator lint_off UNUSEDSIGNAL */
      wire [RW:0]      wrow = wglobal - BaseRow;
      wire [{{ q.nr }}*{{ q.w_row }}-1:0] raddr;
      for (r = 0; r < NRUN; r = r + 1) begin : g_run_row
        // A run holds this bank's element in its first element's row, or
        // the next row when it starts past this bank.
        wire [AW-1:0] first = run_addr_i[r*AW +: AW];
{%- if n + 1 < p.vbank_list.len() %}
        wire [RW:0] next = (bank_of(first) > Bank) ? {{ p.w.vbank_row + 1 }}'d1 : {{ p.w.vbank_row + 1 }}'d0;
{%- else %}
        wire [RW:0] next = {{ p.w.vbank_row + 1 }}'d0;
{%- endif %}
        wire [RW:0] row = {1'b0, row_of(first)} + next - BaseRow;
        assign raddr[r*{{ q.w_row }} +: {{ q.w_row }}] = row[{{ q.w_row - 1 }}:0];
      end
{%- if q.loads %}
      for (r = 0; r < K; r = r + 1) begin : g_load_row
        wire [RW:0] row = {1'b0, row_of(load_addr_i[r*AW +: AW])} - BaseRow;
        assign raddr[(NRUN + r)*{{ q.w_row }} +: {{ q.w_row }}] = row[{{ q.w_row - 1 }}:0];
      end
{%- endif %}
      /* verilator lint_on UNUSEDSIGNAL */
      bbs_vbank #(
        .WIDTH(W),
        .DEPTH({{ q.depth }}),
        .ADDR_W({{ q.w_row }}),
        .NR({{ q.nr }}),
        .INIT_FILE("vmem_p{{ qi }}_b{{ n }}.hex")
      ) u_bank (
        .clk_i  (clk_i),
        .we_i   (we),
        .waddr_i(wrow[{{ q.w_row - 1 }}:0]),
        .wdata_i(wdata),
        .raddr_i(raddr),
        .rdata_o(rdata{{ qi }}[{{ n }}*{{ q.nr }}*W +: {{ q.nr }}*W])
      );
    end
{%- endfor %}
{%- endfor %}
    // Run ports: bank n supplies the run's element in its row (the first
    // element's, or the next when the run starts past n), from the part
    // that row falls in; rotated right by the first element's bank, lane l
    // gets element first + l.
    for (r = 0; r < NRUN; r = r + 1) begin : g_run
      wire [AW-1:0] first = run_addr_i[r*AW +: AW];
      wire [VB*W-1:0] banks;
      for (l = 0; l < VB; l = l + 1) begin : g_bank
        localparam [SBW-1:0] B = l;
        wire [RW:0] row;
        if (l + 1 < VB) begin : g_next
          assign row = {1'b0, row_of(first)} +
                       ((bank_of(first) > B) ? {{ p.w.vbank_row + 1 }}'d1 : {{ p.w.vbank_row + 1 }}'d0);
        end else begin : g_same
          assign row = {1'b0, row_of(first)};
        end
        wire [QW-1:0] part = part_of(row);
        reg [W-1:0] d;
        always @(*) begin
          d = {W{1'b0}};
{%- for q in p.ov.parts %}
          if (part == {{ p.ov.w_part }}'d{{ loop.index0 }}) d = rdata{{ loop.index0 }}[(l*{{ q.nr }} + r)*W +: W];
{%- endfor %}
        end
        assign banks[l*W +: W] = d;
      end
      bbs_rotate #(.N(VB), .W(W), .SW(SBW), .LEFT(0)) u_rotate (
        .data_i (banks),
        .shift_i(bank_of(first)),
        .data_o (run_data_o[r*VB*W +: VB*W])
      );
    end
{%- if !p.ov.interleaved %}
    for (r = 0; r < K; r = r + 1) begin : g_load
      wire [SBW-1:0] bank = bank_of(load_addr_i[r*AW +: AW]);
      wire [QW-1:0] part = part_of({1'b0, row_of(load_addr_i[r*AW +: AW])});
      reg [W-1:0] d;
      integer m;
      // Only the loaded parts have load ports (the validator refuses a
      // load of any other word).
      always @(*) begin
        d = {W{1'b0}};
        for (m = 0; m < VB; m = m + 1) begin
{%- for q in p.ov.parts %}{% if q.loads %}
          if (part == {{ p.ov.w_part }}'d{{ loop.index0 }} && bank == m[SBW-1:0]) d = rdata{{ loop.index0 }}[(m*{{ q.nr }} + NRUN + r)*W +: W];
{%- endif %}{% endfor %}
        end
      end
      assign load_data_o[r*W +: W] = d;
    end
{%- endif %}
  endgenerate

endmodule
