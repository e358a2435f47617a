{% include "header.v" %}
//
// The controller: IDLE -> LOAD -> COMPUTE -> DRAIN -> DONE.
//   LOAD    copies vec_words_i vector-memory words into every PE's private
//           banks, one word (one element per bank) per cycle.
//   COMPUTE issues one CSB word per cycle to all PEs in lockstep: local row j,
//           slot s is matrix-memory word j * slots_i + s; PE p works on global
//           row j * {{ p.pes }} + p.
//   DRAIN   waits {{ p.drain_cycles }} cycles for the last word to leave the pipeline.
//   DONE    holds done_o until the next start_i.
// Runtime sizes (rows_i, slots_i, vec_words_i, mat_base_i) come from the spmv
// instruction (bbs_seq); they must be at least 1 and fit the memories, which
// `bbs_sim::Machine::validate` checks before a program is generated.

module bbs_ctrl (
  input  wire                          clk_i,
  input  wire                          rst_ni,
  input  wire                          start_i,
  output wire                          busy_o,
  output wire                          done_o,
  input  wire [{{ p.w.rows - 1 }}:0]   rows_i,
  input  wire [{{ p.w.slots - 1 }}:0]  slots_i,
  input  wire [{{ p.w.vec_words - 1 }}:0] vec_words_i,
  // Where the matrix starts in every PE's matrix memory.
  input  wire [{{ p.w.mat_addr - 1 }}:0] mat_base_i,
  // The last cycle of the run (the last drain cycle).
  output wire                          last_cycle_o,
  // Vector memory read, and the delayed write into the PEs' banks.
  output wire [{{ p.w.index - 1 }}:0]  vec_raddr_o,
  output wire                          vec_we_o,
  output wire [{{ p.w.index - 1 }}:0]  vec_waddr_o,
  // Issue to the PEs.
  output wire                          issue_valid_o,
  output wire [{{ p.w.mat_addr - 1 }}:0] mat_addr_o,
  output wire                          first_o,
  output wire                          last_o,
  output wire [{{ p.w.local_row - 1 }}:0] local_row_o,
  output wire [{{ p.w.row_base - 1 }}:0] row_base_o
);

  {{ p.ctrl_states }}

  localparam [{{ p.w.row_base - 1 }}:0] Pes = {{ p.w.row_base }}'d{{ p.pes }};
  localparam [{{ p.w.drain - 1 }}:0] DrainLast = {{ p.w.drain }}'d{{ p.drain_cycles - 1 }};

  reg [{{ p.w.ctrl_state - 1 }}:0] state_q, state_d;
  reg [{{ p.w.index - 1 }}:0] vec_raddr_q, vec_raddr_d;
  reg vec_we_q;
  reg [{{ p.w.index - 1 }}:0] vec_waddr_q;
  reg [{{ p.w.mat_addr - 1 }}:0] mat_addr_q, mat_addr_d;
  reg [{{ p.w.slots - 1 }}:0] slot_q, slot_d;
  reg [{{ p.w.local_row - 1 }}:0] local_row_q, local_row_d;
  reg [{{ p.w.row_base - 1 }}:0] row_base_q, row_base_d;
  reg [{{ p.w.drain - 1 }}:0] drain_q, drain_d;

  wire load_last = ({1'b0, vec_raddr_q} == vec_words_i - {{ p.w.vec_words }}'d1);
  wire slot_last = (slot_q == slots_i - {{ p.w.slots }}'d1);
  wire [{{ p.w.row_base - 1 }}:0] rows_ext = { {{ p.w.row_base - p.w.rows }}'d0, rows_i };
  wire row_base_last = (row_base_q + Pes >= rows_ext);

  always @(*) begin
    state_d     = state_q;
    vec_raddr_d = vec_raddr_q;
    mat_addr_d  = mat_addr_q;
    slot_d      = slot_q;
    local_row_d = local_row_q;
    row_base_d  = row_base_q;
    drain_d     = drain_q;
    case (state_q)
      StIdle, StDone: begin
        if (start_i) begin
          state_d     = StLoad;
          vec_raddr_d = {{ p.w.index }}'d0;
        end
      end
      StLoad: begin
        vec_raddr_d = vec_raddr_q + {{ p.w.index }}'d1;
        if (load_last) begin
          state_d     = StCompute;
          mat_addr_d  = mat_base_i;
          slot_d      = {{ p.w.slots }}'d0;
          local_row_d = {{ p.w.local_row }}'d0;
          row_base_d  = {{ p.w.row_base }}'d0;
        end
      end
      StCompute: begin
        mat_addr_d = mat_addr_q + {{ p.w.mat_addr }}'d1;
        if (slot_last) begin
          slot_d      = {{ p.w.slots }}'d0;
          local_row_d = local_row_q + {{ p.w.local_row }}'d1;
          row_base_d  = row_base_q + Pes;
          if (row_base_last) begin
            state_d = StDrain;
            drain_d = {{ p.w.drain }}'d0;
          end
        end else begin
          slot_d = slot_q + {{ p.w.slots }}'d1;
        end
      end
      StDrain: begin
        drain_d = drain_q + {{ p.w.drain }}'d1;
        if (drain_q == DrainLast) begin
          state_d = StDone;
        end
      end
      default: state_d = StIdle;
    endcase
  end

  always @(posedge clk_i) begin
    if (!rst_ni) begin
      state_q     <= StIdle;
      vec_raddr_q <= {{ p.w.index }}'d0;
      vec_we_q    <= 1'b0;
      vec_waddr_q <= {{ p.w.index }}'d0;
      mat_addr_q  <= {{ p.w.mat_addr }}'d0;
      slot_q      <= {{ p.w.slots }}'d0;
      local_row_q <= {{ p.w.local_row }}'d0;
      row_base_q  <= {{ p.w.row_base }}'d0;
      drain_q     <= {{ p.w.drain }}'d0;
    end else begin
      state_q     <= state_d;
      vec_raddr_q <= vec_raddr_d;
      // The vector memory answers one cycle after the read: write then.
      vec_we_q    <= (state_q == StLoad);
      vec_waddr_q <= vec_raddr_q;
      mat_addr_q  <= mat_addr_d;
      slot_q      <= slot_d;
      local_row_q <= local_row_d;
      row_base_q  <= row_base_d;
      drain_q     <= drain_d;
    end
  end

  assign busy_o        = (state_q != StIdle) && (state_q != StDone);
  assign done_o        = (state_q == StDone);
  assign last_cycle_o  = (state_q == StDrain) && (drain_q == DrainLast);
  assign vec_raddr_o   = vec_raddr_q;
  assign vec_we_o      = vec_we_q;
  assign vec_waddr_o   = vec_waddr_q;
  assign issue_valid_o = (state_q == StCompute);
  assign mat_addr_o    = mat_addr_q;
  assign first_o       = (slot_q == {{ p.w.slots }}'d0);
  assign last_o        = slot_last;
  assign local_row_o   = local_row_q;
  assign row_base_o    = row_base_q;

endmodule
