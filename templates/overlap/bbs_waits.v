{% include "header.v" %}
//
// The issue stage's hazard check (bbs_sim::overlap::schedule is its
// specification). It keeps, per instruction, the cycles its read and its
// write anchor started in its last two frames (slot = frame mod 2) and
// answers for the head of each of the {{ p.ov.units }} units whether every wait of that
// instruction is met. An anchor is a dispatch, except for an spmv: its read
// anchor is its vector load's dispatch, its write anchor its first compute
// cycle on the PE array.
//
// The wait table (WAIT_FILE or the host's write port, one line per instruction) holds {{ p.ov.max_waits }} entries of
// {{ p.ov.w_wait }} bits: {valid, anchor unit, instruction, previous_frame, gates_write, after}
// (bbs_sim::overlap::tables::wait_entry). A wait of instruction i in frame f
// on instruction j is met in cycle t when j's anchor on the anchor unit (the
// PE array: its write anchor, else its read anchor) of frame f -
// previous_frame has started, in cycle s, and t - s >= after (after >= 1: the
// start is seen from these tables, a cycle later). A wait on the previous
// frame in frame 0 is met. gates_write says which of i's anchors the wait
// holds back; each unit asks for the waits of its own anchor (q_mask_i: bit
// 0 read, bit 1 write). The validator makes sure that frame f + 2 of j never
// overwrites a slot a wait still needs.
//
// Why it is built this way: each unit starts only its own instructions, so
// every unit has its own start-cycle table (one write port: distributed
// RAM), and a wait names the table it reads. Only the slots' "written in
// this run" bits, cleared by a start, are registers: one set for read
// anchors (an instruction has one dispatching unit), one for write anchors.
module bbs_waits #(
  parameter WAIT_FILE = ""
) (
  input  wire                                         clk_i,
  input  wire                                         rst_ni,
  input  wire                                         start_i,
  // The host's write port (while idle): the wait table's line waddr_i.
  input  wire                                         we_i,
  input  wire [{{ p.ov.w_instr - 1 }}:0]              waddr_i,
  input  wire [{{ p.ov.max_waits * p.ov.w_wait - 1 }}:0] wdata_i,
  // Anchors starting this cycle, one port per unit.
  input  wire [{{ p.ov.units - 1 }}:0]                r_we_i,
  input  wire [{{ p.ov.units * p.ov.w_instr - 1 }}:0] r_instr_i,
  input  wire [{{ p.ov.units * p.ov.w_frame - 1 }}:0] r_frame_i,
  input  wire [{{ p.ov.units - 1 }}:0]                w_we_i,
  input  wire [{{ p.ov.units * p.ov.w_instr - 1 }}:0] w_instr_i,
  input  wire [{{ p.ov.units * p.ov.w_frame - 1 }}:0] w_frame_i,
  // Each unit's head and the anchors it asks for.
  input  wire [{{ p.ov.units * p.ov.w_instr - 1 }}:0] q_instr_i,
  input  wire [{{ p.ov.units * p.ov.w_frame - 1 }}:0] q_frame_i,
  input  wire [{{ p.ov.units * 2 - 1 }}:0]            q_mask_i,
  output wire [{{ p.ov.units - 1 }}:0]                met_o
);

  localparam integer NU = {{ p.ov.units }};
  localparam integer N = {{ p.imem_depth }};
  localparam integer IA = {{ p.ov.w_instr }};
  localparam integer FW = {{ p.ov.w_frame }};
  localparam integer SW = {{ p.ov.w_stamp }};
  localparam integer AFW = {{ p.ov.w_after }};
  localparam integer MW = {{ p.ov.max_waits }};
  localparam integer EW = {{ p.ov.w_wait }};

  reg [MW*EW-1:0] waits_q [0:N-1];

  generate
    if (WAIT_FILE != "") begin : g_init
      initial $readmemh(WAIT_FILE, waits_q);
    end
  endgenerate

  always @(posedge clk_i) begin
    if (we_i) begin
      waits_q[waddr_i] <= wdata_i;
    end
  end

  // Cycles since reset; stamps and waits compare modulo 2^SW.
  reg [SW-1:0] now_q;
  always @(posedge clk_i) begin
    if (!rst_ni) now_q <= {SW{1'b0}};
    else         now_q <= now_q + {{ p.ov.w_stamp }}'d1;
  end

  // Per anchor unit u and slot {instruction, frame mod 2}: the frame
  // (modulo 4) and the cycle (modulo 2^SW) of the anchor's last start in
  // that slot, and whether the slot was written in this run (cleared by
  // start_i). A wait on frame g reads slot {j, g mod 2}: it holds frame g
  // once g has started, g - 2 before (the validator refuses g + 2 while the
  // wait is pending), so the frame bits tell the two apart.
  wire [NU-1:0]    a_we;
  wire [NU*IA-1:0] a_instr;
  wire [NU*FW-1:0] a_frame;
{%- for u in p.ov.unit_list() %}
{%- if u == 3 %}
  assign a_we[{{ u }}] = w_we_i[{{ u }}];
  assign a_instr[{{ u }}*IA +: IA] = w_instr_i[{{ u }}*IA +: IA];
  assign a_frame[{{ u }}*FW +: FW] = w_frame_i[{{ u }}*FW +: FW];
{%- else %}
  assign a_we[{{ u }}] = r_we_i[{{ u }}];
  assign a_instr[{{ u }}*IA +: IA] = r_instr_i[{{ u }}*IA +: IA];
  assign a_frame[{{ u }}*FW +: FW] = r_frame_i[{{ u }}*FW +: FW];
{%- endif %}
{%- endfor %}
  // The PE array has no read anchor; the others' write anchor is the read one.
  wire unused_anchor_ports = ^{r_we_i[3], r_instr_i[3*IA +: IA], r_frame_i[3*FW +: FW],
                               w_we_i, w_instr_i, w_frame_i};

  // Every wait of every unit's head, decoded: query n = q * MW + k.
  localparam integer NQ = NU * MW;
  localparam integer TW = SW + 2;
  wire [NQ-1:0]      w_valid;
  wire [NQ*3-1:0]    w_unit;
  wire [NQ*(IA+1)-1:0] w_slot;
  wire [NQ*2-1:0]    w_g;
  wire [NQ-1:0]      w_skip;
  wire [NQ*AFW-1:0]  w_after;
  // What each anchor unit's table holds at each query's slot.
  wire [NU*NQ*TW-1:0] rd_entry;

  genvar u;
  genvar q;
  genvar k;
  generate
    for (q = 0; q < NU; q = q + 1) begin : g_decode
      wire [IA-1:0]    instr = q_instr_i[q*IA +: IA];
      wire [FW-1:0]    frame = q_frame_i[q*FW +: FW];
      wire [MW*EW-1:0] entries = waits_q[instr];
      for (k = 0; k < MW; k = k + 1) begin : g_wait
        wire [EW-1:0]  e = entries[k*EW +: EW];
        wire           previous = e[AFW+1];
        wire           gates_write = e[AFW];
        wire           asked = gates_write ? q_mask_i[q*2+1] : q_mask_i[q*2];
        wire           no_frame = previous && (frame == {FW{1'b0}});
        // The frame waited for, modulo 4.
        wire [1:0]     g = frame[1:0] - {1'b0, previous};
        assign w_valid[q*MW + k] = e[EW-1];
        assign w_unit[(q*MW + k)*3 +: 3] = e[EW-2 -: 3];
        assign w_slot[(q*MW + k)*(IA+1) +: IA+1] = {e[EW-5 -: IA], g[0]};
        assign w_g[(q*MW + k)*2 +: 2] = g;
        assign w_skip[q*MW + k] = !asked || no_frame;
        assign w_after[(q*MW + k)*AFW +: AFW] = e[AFW-1:0];
      end
    end

    for (u = 0; u < NU; u = u + 1) begin : g_anchor
      // {frame mod 4, start cycle}: one write port, NQ read ports.
      reg [TW-1:0] stamp_q [0:2*N-1];
      wire [IA:0]  slot = {a_instr[u*IA +: IA], a_frame[u*FW]};
      always @(posedge clk_i) begin
        if (a_we[u]) stamp_q[slot] <= {a_frame[u*FW +: 2], now_q};
      end
      for (k = 0; k < NQ; k = k + 1) begin : g_read
        assign rd_entry[(u*NQ + k)*TW +: TW] = stamp_q[w_slot[k*(IA+1) +: IA+1]];
      end
    end
  endgenerate

  // Whether each slot was written in this run: read anchors (each
  // instruction has one unit that dispatches it) and the PE array's write
  // anchors. A unit may dispatch in the start cycle itself: its bit
  // survives the clear (the later assignment wins).
  reg [2*N-1:0] r_seen_q;
  reg [2*N-1:0] w_seen_q;
  integer s;
  always @(posedge clk_i) begin
    if (!rst_ni) begin
      r_seen_q <= {(2*N){1'b0}};
      w_seen_q <= {(2*N){1'b0}};
    end else begin
      if (start_i) begin
        r_seen_q <= {(2*N){1'b0}};
        w_seen_q <= {(2*N){1'b0}};
      end
      for (s = 0; s < NU; s = s + 1) begin
        if (a_we[s] && s == 3) w_seen_q[{a_instr[s*IA +: IA], a_frame[s*FW]}] <= 1'b1;
        if (a_we[s] && s != 3) r_seen_q[{a_instr[s*IA +: IA], a_frame[s*FW]}] <= 1'b1;
      end
    end
  end

  generate
    for (q = 0; q < NU; q = q + 1) begin : g_query
      wire [MW-1:0] met_k;
      for (k = 0; k < MW; k = k + 1) begin : g_wait
        localparam integer n = q * MW + k;
        wire [IA:0]    slot = w_slot[n*(IA+1) +: IA+1];
        wire           seen = (w_unit[n*3 +: 3] == 3'd3) ? w_seen_q[slot] : r_seen_q[slot];
        reg [TW-1:0]   entry;
        integer        m;
        always @(*) begin
          entry = {TW{1'b0}};
          for (m = 0; m < NU; m = m + 1) begin
            if (w_unit[n*3 +: 3] == m[2:0]) entry = rd_entry[(m*NQ + n)*TW +: TW];
          end
        end
        wire           started = !start_i && seen && (entry[SW+1:SW] == w_g[n*2 +: 2]);
        wire [SW-1:0]  age = now_q - entry[SW-1:0];
        assign met_k[k] = !w_valid[n] || w_skip[n] ||
                          (started && (age >= { {(SW-AFW){1'b0}}, w_after[n*AFW +: AFW] }));
      end
      assign met_o[q] = &met_k;
    end
  endgenerate

endmodule
