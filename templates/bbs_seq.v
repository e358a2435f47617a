{% include "header.v" %}
//
// The sequencer: the instruction buffer ({{ p.imem_depth }} words of {{ p.w.instr }} bits) and the
// controller that runs a program one instruction after another
// (bbs_sim::machine is its executable specification; every count below is
// the simulator's):
//   dispatch  1 cycle: read instruction pc and decode it. From IDLE or DONE,
//             start_i is that cycle for instruction 0.
//   load      s_axis_tready_o until ceil(len / {{ p.beat_el }}) beats are accepted; each
//             writes up to {{ p.beat_el }} element(s) from d onward.
//   store     m_axis_tvalid_o until ceil(len / {{ p.beat_el }}) beats are accepted.
//   spmv      starts bbs_ctrl in the dispatch cycle and waits for its last
//             drain cycle (load + compute + drain).
//   ewop/act  ceil(len / {{ p.lanes }}) issue cycles of {{ p.lanes }} lane(s), then {{ p.ew_latency }} cycle(s)
//             for the last results to be written.
// After the last instruction (pc + 1 == n_instr_i) the sequencer is DONE.
// Instruction fields (bbs_sim::arch::encoding):
{%- for f in p.fields %}
//   {{ f.name }}{{ f.range() }}
{%- endfor %}

module bbs_seq #(
  parameter INIT_FILE = ""
) (
  input  wire                               clk_i,
  input  wire                               rst_ni,
  input  wire                               start_i,
  input  wire [{{ p.w.pc - 1 }}:0]          n_instr_i,
  output wire                               busy_o,
  output wire                               done_o,
  output wire [{{ p.w.pc - 1 }}:0]          pc_o,
  // Instruction buffer write port (the host's, while idle).
  input  wire                               imem_we_i,
  input  wire [{{ p.w.imem_addr - 1 }}:0]   imem_waddr_i,
  input  wire [{{ p.w.instr - 1 }}:0]       imem_wdata_i,
  // The instruction being executed.
  output wire [{{ p.w.op - 1 }}:0]                         op_o,
  output wire [{{ p.w.func - 1 }}:0]                         func_o,
  output wire [{{ p.w.vaddr - 1 }}:0]       a_o,
  output wire [{{ p.w.vaddr - 1 }}:0]       b_o,
  output wire [{{ p.w.vaddr - 1 }}:0]       d_o,
  output wire [{{ p.w.vlen - 1 }}:0]        len_o,
  output wire [{{ p.w.rows - 1 }}:0]        rows_o,
  output wire [{{ p.w.slots - 1 }}:0]       slots_o,
  output wire [{{ p.w.vec_words - 1 }}:0]   bank_o,
  output wire [{{ p.w.mat_addr - 1 }}:0]    mat_o,
  // SpMxV: start the PE array's controller; it reports its last cycle.
  output wire                               spmv_start_o,
  input  wire                               spmv_last_i,
  // EWOP/ACT issue: element offset of lane 0 in this cycle.
  output wire                               ew_issue_o,
  output wire [{{ p.w.off - 1 }}:0]         ew_off_o,
  // DMA: element offset of this beat.
  output wire                               s_axis_tready_o,
  input  wire                               s_axis_tvalid_i,
  output wire                               m_axis_tvalid_o,
  input  wire                               m_axis_tready_i,
  output wire                               m_axis_tlast_o,
  output wire [{{ p.w.off - 1 }}:0]         dma_off_o
);

  {{ p.seq_states }}

  {{ p.seq_ops }}

  localparam integer OW = {{ p.w.off }};
  localparam [OW-1:0] Lanes = {{ p.w.off }}'d{{ p.lanes }};
  localparam [OW-1:0] BeatEl = {{ p.w.off }}'d{{ p.beat_el }};

  reg [{{ p.w.instr - 1 }}:0] imem_q [0:{{ p.imem_depth - 1 }}];

  generate
    if (INIT_FILE != "") begin : g_init
      initial $readmemh(INIT_FILE, imem_q);
    end
  endgenerate

  always @(posedge clk_i) begin
    if (imem_we_i) begin
      imem_q[imem_waddr_i] <= imem_wdata_i;
    end
  end

  reg [{{ p.w.seq_state - 1 }}:0] state_q, state_d;
  reg [{{ p.w.pc - 1 }}:0] pc_q, pc_d;
  reg [{{ p.w.instr - 1 }}:0] instr_q, instr_d;
  reg [OW-1:0] off_q, off_d;
  reg [{{ p.w.wait - 1 }}:0] wait_q, wait_d;

  // Dispatch: from FETCH, or from IDLE/DONE on start_i (instruction 0).
  wire idle_start = ((state_q == StIdle) || (state_q == StDone)) && start_i;
  wire dispatch   = (state_q == StFetch) || idle_start;
  wire [{{ p.w.pc - 1 }}:0] fetch_pc = (state_q == StFetch) ? pc_q : {{ p.w.pc }}'d0;
{%- if p.w.imem_addr < p.w.pc %}
  wire [{{ p.w.imem_addr - 1 }}:0] fetch_addr = fetch_pc[{{ p.w.imem_addr - 1 }}:0];
  wire unused_pc_bits = ^fetch_pc[{{ p.w.pc - 1 }}:{{ p.w.imem_addr }}];
{%- else %}
  wire [{{ p.w.imem_addr - 1 }}:0] fetch_addr = fetch_pc;
{%- endif %}
  wire [{{ p.w.instr - 1 }}:0] fetched = imem_q[fetch_addr];
  wire [{{ p.w.op - 1 }}:0] fetched_op = fetched{{ p.op_range }};

  // Fields of the executing instruction.
{%- for f in p.fields %}
  wire [{{ f.width - 1 }}:0] f_{{ f.name }} = instr_q{{ f.range() }};
{%- endfor %}
{%- if p.w.off > p.w.vlen %}
  wire [OW-1:0] len_ext = { {{ p.w.off - p.w.vlen }}'d0, f_len };
{%- else %}
  wire [OW-1:0] len_ext = f_len;
{%- endif %}

  wire last_instr = (pc_q + {{ p.w.pc }}'d1 == n_instr_i);
  wire in_fire    = (state_q == StLoad) && s_axis_tvalid_i;
  wire out_fire   = (state_q == StStore) && m_axis_tready_i;
  wire beat_last  = (off_q + BeatEl >= len_ext);
  wire issue_last = (off_q + Lanes >= len_ext);

  always @(*) begin
    state_d = state_q;
    pc_d    = pc_q;
    instr_d = instr_q;
    off_d   = off_q;
    wait_d  = wait_q;
    if (dispatch) begin
      if (idle_start && n_instr_i == {{ p.w.pc }}'d0) begin
        state_d = StDone;
      end else begin
        pc_d    = fetch_pc;
        instr_d = fetched;
        off_d   = {OW{1'b0}};
        case (fetched_op)
          OpLoad:  state_d = StLoad;
          OpStore: state_d = StStore;
          OpSpmv:  state_d = StSpmv;
          default: state_d = StIssue;
        endcase
      end
    end else begin
      // The last cycle of an instruction moves on to the next one.
      case (state_q)
        StLoad, StStore: begin
          if (in_fire || out_fire) begin
            off_d = off_q + BeatEl;
            if (beat_last) begin
              state_d = last_instr ? StDone : StFetch;
              pc_d    = pc_q + {{ p.w.pc }}'d1;
            end
          end
        end
        StSpmv: begin
          if (spmv_last_i) begin
            state_d = last_instr ? StDone : StFetch;
            pc_d    = pc_q + {{ p.w.pc }}'d1;
          end
        end
        StIssue: begin
          off_d = off_q + Lanes;
          if (issue_last) begin
{%- if p.ew_latency > 0 %}
            state_d = StWait;
            wait_d  = {{ p.w.wait }}'d0;
{%- else %}
            state_d = last_instr ? StDone : StFetch;
            pc_d    = pc_q + {{ p.w.pc }}'d1;
{%- endif %}
          end
        end
        StWait: begin
          wait_d = wait_q + {{ p.w.wait }}'d1;
          if (wait_q == {{ p.w.wait }}'d{{ p.ew_latency }} - {{ p.w.wait }}'d1) begin
            state_d = last_instr ? StDone : StFetch;
            pc_d    = pc_q + {{ p.w.pc }}'d1;
          end
        end
        default: ;
      endcase
    end
  end

  always @(posedge clk_i) begin
    if (!rst_ni) begin
      state_q <= StIdle;
      pc_q    <= {{ p.w.pc }}'d0;
      instr_q <= {{ p.w.instr }}'d0;
      off_q   <= {OW{1'b0}};
      wait_q  <= {{ p.w.wait }}'d0;
    end else begin
      state_q <= state_d;
      pc_q    <= pc_d;
      instr_q <= instr_d;
      off_q   <= off_d;
      wait_q  <= wait_d;
    end
  end

  assign busy_o          = (state_q != StIdle) && (state_q != StDone);
  assign done_o          = (state_q == StDone);
  assign pc_o            = pc_q;
  assign op_o            = f_op;
  assign func_o          = f_func;
  assign a_o             = f_a;
  assign b_o             = f_b;
  assign d_o             = f_d;
  assign len_o           = f_len;
  assign rows_o          = f_rows;
  assign slots_o         = f_slots;
  assign bank_o          = f_bank;
  assign mat_o           = f_mat;
  assign spmv_start_o    = dispatch && !(idle_start && n_instr_i == {{ p.w.pc }}'d0) &&
                           (fetched_op == OpSpmv);
  assign ew_issue_o      = (state_q == StIssue);
  assign ew_off_o        = off_q;
  assign s_axis_tready_o = (state_q == StLoad);
  assign m_axis_tvalid_o = (state_q == StStore);
  assign m_axis_tlast_o  = (state_q == StStore) && beat_last;
  assign dma_off_o       = off_q;

endmodule
