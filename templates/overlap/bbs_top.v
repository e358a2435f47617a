{% include "header.v" %}
//
// The overlapped accelerator (docs/architecture.md, "The overlapped machine
// in RTL"; bbs_sim::overlap is its executable specification). Its units
// work at the same time, each taking its own instructions in issue order:
//   DMA in (load)     bbs_unit, s_axis          DMA out (store)  bbs_unit, m_axis
//   vector load       bbs_unit: an spmv's vector into the PEs' private banks
//   PE array          bbs_pe_issue and {{ p.pes }} PE(s) (bbs_pe)
//   EWOP lanes        bbs_unit + bbs_ewop: ewop{% if !p.ov.act_unit %} and act{% endif %} instructions
{%- if p.ov.act_unit %}
//   ACT lanes         bbs_unit + bbs_ewop: act instructions
{%- endif %}
// Each unit walks its issue list (bbs_issue: issue_<unit>.hex) and
// dispatches its head in the first cycle it is free and the head's waits
// are met (bbs_waits: waits.hex). A start runs FRAMES frames of the program
// (the instruction buffer's first NINSTR words) back to back.
// Host interface: as the serialized machine's (bbs_regs, imem_*, mat_*,
// s_axis_*, m_axis_*), plus the FRAMES register.

module bbs_top #(
  parameter IMEM_INIT = "program.hex"
) (
  input  wire                                    clk_i,
  input  wire                                    rst_ni,
  output wire                                    busy_o,
  output wire                                    done_o,
  input  wire                                    reg_we_i,
  input  wire [{{ p.w.reg_addr - 1 }}:0]         reg_addr_i,
  input  wire [31:0]                             reg_wdata_i,
  output wire [31:0]                             reg_rdata_o,
  input  wire                                    imem_we_i,
  input  wire [{{ p.w.imem_addr - 1 }}:0]        imem_waddr_i,
  input  wire [{{ p.w.instr - 1 }}:0]            imem_wdata_i,
  // Issue tables at run time: tab_sel_i = u < {{ p.ov.units }} writes word tab_waddr_i of
  // unit u's issue list (tab_wdata_i[15:0]), 7 line tab_waddr_i of the wait table.
  input  wire                                    tab_we_i,
  input  wire [2:0]                              tab_sel_i,
  input  wire [{{ p.ov.w_tab_addr - 1 }}:0]      tab_waddr_i,
  input  wire [{{ p.ov.w_tab_data - 1 }}:0]      tab_wdata_i,
  input  wire                                    mat_we_i,
  input  wire [{{ p.w.pe_sel - 1 }}:0]           mat_pe_i,
  input  wire [{{ p.w.mat_addr - 1 }}:0]         mat_waddr_i,
  input  wire [{{ p.w.mat_word - 1 }}:0]         mat_wdata_i,
  input  wire                                    s_axis_tvalid_i,
  output wire                                    s_axis_tready_o,
  input  wire [{{ p.w.beat - 1 }}:0]             s_axis_tdata_i,
  input  wire                                    s_axis_tlast_i,
  output wire                                    m_axis_tvalid_o,
  input  wire                                    m_axis_tready_i,
  output wire [{{ p.w.beat - 1 }}:0]             m_axis_tdata_o,
  output wire [{{ p.w.beat_bytes - 1 }}:0]       m_axis_tkeep_o,
  output wire                                    m_axis_tlast_o
);

  localparam integer W = {{ p.w.value }};
  localparam integer AW = {{ p.w.vaddr }};
  localparam integer XW = {{ p.w.addr_sum }};
  localparam integer IA = {{ p.ov.w_instr }};
  localparam integer FW = {{ p.ov.w_frame }};
  localparam integer IW = {{ p.w.instr }};
  localparam integer NU = {{ p.ov.units }};
  localparam integer VB = {{ p.vm.banks }};
  localparam integer NG = {{ p.ov.groups }};
  localparam integer NRUN = {{ p.ov.runs }};
{%- if p.ov.interleaved %}
  localparam integer R = {{ p.ov.load_run }};
{%- else %}
  localparam integer K = {{ p.banks }};
{%- endif %}
  localparam integer EB = {{ p.w.elem_bytes }};
  localparam [XW-1:0] BeatEl = {{ p.w.addr_sum }}'d{{ p.beat_el }};
  {{ p.ov.op_act }}

  // ---- Register block, instruction buffer ----
  wire start;
  wire [{{ p.w.pc - 1 }}:0] n_instr;
  wire [FW-1:0] frames;
  wire [{{ p.w.pc - 1 }}:0] pc;

  bbs_regs u_regs (
    .clk_i      (clk_i),
    .rst_ni     (rst_ni),
    .reg_we_i   (reg_we_i),
    .reg_addr_i (reg_addr_i),
    .reg_wdata_i(reg_wdata_i),
    .reg_rdata_o(reg_rdata_o),
    .busy_i     (busy_o),
    .done_i     (done_o),
    .pc_i       (pc),
    .start_o    (start),
    .n_instr_o  (n_instr),
    .frames_o   (frames)
  );
  // NINSTR is informational here: the issue lists name every instruction.
  wire unused_n_instr = ^n_instr;

  reg [IW-1:0] imem_q [0:{{ p.imem_depth - 1 }}];
  initial $readmemh(IMEM_INIT, imem_q);
  always @(posedge clk_i) begin
    if (imem_we_i) begin
      imem_q[imem_waddr_i] <= imem_wdata_i;
    end
  end

  // ---- Issue lists: 0 DMA in, 1 DMA out, 2 vector load, 3 PE array, 4 EWOP{% if p.ov.act_unit %}, 5 ACT{% endif %} ----
  wire [NU-1:0]    head_valid;
  wire [NU-1:0]    list_idle;
  wire [NU*IA-1:0] head_instr;
  wire [NU*FW-1:0] head_frame;
  wire [NU-1:0]    advance;
  wire [NU-1:0]    met;
  wire [NU-1:0]    r_we;
  wire [NU-1:0]    w_we;

{%- for (u, file) in p.ov.list_files() %}
  bbs_issue #(
    .INIT_FILE("{{ file }}")
  ) u_list{{ u }} (
    .clk_i       (clk_i),
    .rst_ni      (rst_ni),
    .start_i     (start),
    .frames_i    (frames),
    .we_i        (tab_we_i && (tab_sel_i == 3'd{{ u }})),
    .waddr_i     (tab_waddr_i[{{ p.ov.w_list - 1 }}:0]),
    .wdata_i     (tab_wdata_i[15:0]),
    .advance_i   (advance[{{ u }}]),
    .head_valid_o(head_valid[{{ u }}]),
    .idle_o      (list_idle[{{ u }}]),
    .head_instr_o(head_instr[{{ u }}*IA +: IA]),
    .head_frame_o(head_frame[{{ u }}*FW +: FW])
  );
{%- endfor %}

  bbs_waits #(
    .WAIT_FILE("waits.hex")
  ) u_waits (
    .clk_i    (clk_i),
    .rst_ni   (rst_ni),
    .start_i  (start),
    .we_i     (tab_we_i && (tab_sel_i == 3'd7)),
    .waddr_i  (tab_waddr_i[IA-1:0]),
    .wdata_i  (tab_wdata_i[{{ p.ov.max_waits * p.ov.w_wait - 1 }}:0]),
    .r_we_i   (r_we),
    .r_instr_i(head_instr),
    .r_frame_i(head_frame),
    .w_we_i   (w_we),
    .w_instr_i(head_instr),
    .w_frame_i(head_frame),
    .q_instr_i(head_instr),
    .q_frame_i(head_frame),
    // The vector load waits on reads, the PE array on writes, others on both.
    .q_mask_i ({ {% if p.ov.act_unit %}2'b11, {% endif %}2'b11, 2'b10, 2'b01, 2'b11, 2'b11 }),
    .met_o    (met)
  );

  // Each unit's head instruction word.
  wire [IW-1:0] in_head   = imem_q[head_instr[0*IA +: IA]];
  wire [IW-1:0] out_head  = imem_q[head_instr[1*IA +: IA]];
  wire [IW-1:0] vl_head   = imem_q[head_instr[2*IA +: IA]];
  wire [IW-1:0] pe_head   = imem_q[head_instr[3*IA +: IA]];
  wire [IW-1:0] ew_head   = imem_q[head_instr[4*IA +: IA]];
{%- if p.ov.act_unit %}
  wire [IW-1:0] act_head  = imem_q[head_instr[5*IA +: IA]];
{%- endif %}

  // ---- Vector memory ----
  wire [NRUN*AW-1:0]   run_addr;
  wire [NRUN*VB*W-1:0] run_data;
{%- if !p.ov.interleaved %}
  wire [K*AW-1:0]      load_addr;
  wire [K*W-1:0]       load_data;
{%- endif %}
  wire [NG*VB-1:0]     v_we;
  wire [NG*VB*AW-1:0]  v_waddr;
  wire [NG*VB*W-1:0]   v_wdata;

  // Each run port reads {{ p.vm.banks }} lanes; a unit takes as many as it needs.
  wire unused_run_data = ^run_data;

  bbs_vmem u_vmem (
    .clk_i      (clk_i),
    .run_addr_i (run_addr),
    .run_data_o (run_data),
{%- if !p.ov.interleaved %}
    .load_addr_i(load_addr),
    .load_data_o(load_data),
{%- endif %}
    .we_i       (v_we),
    .waddr_i    (v_waddr),
    .wdata_i    (v_wdata)
  );

  // ---- DMA in: loads from s_axis into the vector memory (write group 0) ----
  wire          in_run;
  wire          in_last;
  wire [XW-1:0] in_off;
  wire [IW-1:0] in_word;
  wire [IA-1:0] in_index;
  wire [FW-1:0] in_frame;
  wire [XW-1:0] in_len = { {{ p.w.addr_sum - p.w.vlen }}'d0, in_word{{ p.f("len") }} };
  wire [XW-1:0] in_d   = { {{ p.w.addr_sum - p.w.vaddr }}'d0, in_word{{ p.f("d") }} };
  wire          in_fire = s_axis_tvalid_i && in_run;

  bbs_unit #(.STEP({{ p.beat_el }})) u_in (
    .clk_i       (clk_i),
    .rst_ni      (rst_ni),
    .head_valid_i(head_valid[0]),
    .head_instr_i(head_instr[0*IA +: IA]),
    .head_frame_i(head_frame[0*FW +: FW]),
    .head_word_i (in_head),
    .ready_i     (met[0]),
    .fire_i      (s_axis_tvalid_i),
    .count_i     (in_len),
    .dispatch_o  (advance[0]),
    .run_o       (in_run),
    .last_o      (in_last),
    .off_o       (in_off),
    .instr_o     (in_word),
    .index_o     (in_index),
    .frame_o     (in_frame)
  );
  assign r_we[0] = advance[0];
  assign w_we[0] = advance[0];
  assign s_axis_tready_o = in_run;
  // tlast is informational: the instruction's length says where a load ends.
  // Each element uses the low {{ p.w.value }} bits of its {{ p.w.elem_bytes }} byte(s).
  wire unused_in = ^{s_axis_tlast_i, s_axis_tdata_i, in_last, in_index, in_frame, in_word};

  // ---- DMA out: stores from the vector memory to m_axis (run port 2) ----
  wire          out_run;
  wire          out_last;
  wire [XW-1:0] out_off;
  wire [IW-1:0] out_word;
  wire [IA-1:0] out_index;
  wire [FW-1:0] out_frame;
  wire [XW-1:0] out_len = { {{ p.w.addr_sum - p.w.vlen }}'d0, out_word{{ p.f("len") }} };
  wire [XW-1:0] out_a   = { {{ p.w.addr_sum - p.w.vaddr }}'d0, out_word{{ p.f("a") }} };

  bbs_unit #(.STEP({{ p.beat_el }})) u_out (
    .clk_i       (clk_i),
    .rst_ni      (rst_ni),
    .head_valid_i(head_valid[1]),
    .head_instr_i(head_instr[1*IA +: IA]),
    .head_frame_i(head_frame[1*FW +: FW]),
    .head_word_i (out_head),
    .ready_i     (met[1]),
    .fire_i      (m_axis_tready_i),
    .count_i     (out_len),
    .dispatch_o  (advance[1]),
    .run_o       (out_run),
    .last_o      (out_last),
    .off_o       (out_off),
    .instr_o     (out_word),
    .index_o     (out_index),
    .frame_o     (out_frame)
  );
  assign r_we[1] = advance[1];
  assign w_we[1] = advance[1];
  wire unused_out = ^{out_last, out_index, out_frame, out_word};
  wire [XW-1:0] out_addr = out_a + out_off;
  assign run_addr[2*AW +: AW] = out_addr[AW-1:0];
  wire unused_out_addr = ^out_addr[XW-1:AW];
  assign m_axis_tvalid_o = out_run;
  assign m_axis_tlast_o  = out_run && (out_off + BeatEl >= out_len);

  genvar g;
  generate
    for (g = 0; g < {{ p.beat_el }}; g = g + 1) begin : g_out
      localparam [XW-1:0] G = {{ p.w.addr_sum }}'d0 + g;
      wire keep = (out_off + G) < out_len;
      wire [W-1:0] e = run_data[(2*VB + g)*W +: W];
      assign m_axis_tdata_o[g*EB*8 +: EB*8] =
{%- if p.w.elem_bytes * 8 > p.w.value %}
        { { {{ p.w.elem_bytes * 8 - p.w.value }}{e[W-1]} }, e };
{%- else %}
        e;
{%- endif %}
      assign m_axis_tkeep_o[g*EB +: EB] = {EB{keep}};
    end
    for (g = 0; g < VB; g = g + 1) begin : g_in_w
      localparam [XW-1:0] G = {{ p.w.addr_sum }}'d0 + g;
      wire [XW-1:0] addr = in_d + in_off + G;
      wire unused_addr_bits = ^addr[XW-1:AW];
      assign v_we[0*VB + g] = (g < {{ p.beat_el }}) && in_fire && ((in_off + G) < in_len);
      assign v_waddr[(0*VB + g)*AW +: AW] = addr[AW-1:0];
      assign v_wdata[(0*VB + g)*W +: W] = (g < {{ p.beat_el }}) ?
        s_axis_tdata_i[(g % {{ p.beat_el }})*EB*8 +: W] : {W{1'b0}};
    end
  endgenerate

  // ---- Vector load: an spmv's vector into the PEs' private banks ----
  // Private copies: 0 empty, 1 loading, 2 full, 3 computing.
  localparam integer NB = {{ p.ov.vbuf }};
  localparam [1:0] BufEmpty = 2'd0;
  localparam [1:0] BufLoading = 2'd1;
  localparam [1:0] BufFull = 2'd2;
  localparam [1:0] BufComputing = 2'd3;
  reg [1:0] buf_q [0:1];
  reg       vl_next_q;   // the copy the next vector load fills
  reg       vl_buf_q;    // the copy being filled
  reg       pe_next_q;   // the copy the next SpMxV computes from
  reg       pe_buf_q;    // the copy being computed from

  wire          vl_run;
  wire          vl_last;
  wire [XW-1:0] vl_off;
  wire [IW-1:0] vl_word;
  wire [IA-1:0] vl_index;
  wire [FW-1:0] vl_frame;
  wire [XW-1:0] vl_bank = { {{ p.w.addr_sum - p.w.vec_words }}'d0, vl_word{{ p.f("bank") }} };
  wire [XW-1:0] vl_len  = { {{ p.w.addr_sum - p.w.vlen }}'d0, vl_word{{ p.f("len") }} };
  wire [XW-1:0] vl_a    = { {{ p.w.addr_sum - p.w.vaddr }}'d0, vl_word{{ p.f("a") }} };
  wire [XW-1:0] vl_head_bank = { {{ p.w.addr_sum - p.w.vec_words }}'d0, vl_head{{ p.f("bank") }} };
  wire vl_free = (buf_q[vl_next_q] == BufEmpty);
{%- if p.ov.interleaved %}

  // Bank-interleaved vectors: word a of the source goes to private bank
  // a % {{ p.banks }}, position a / {{ p.banks }}; load cycle j reads the run of the {{ p.ov.load_run }} words from
  // a + j * {{ p.ov.load_run }} (positions j * {{ p.ov.load_width }} on), so the unit steps {{ p.ov.load_width }} position(s) a cycle
  // over the bank size: ceil(bank / {{ p.ov.load_width }}) cycles.
{%- else %}
{% endif %}
  bbs_unit #(.STEP({{ p.ov.load_width }})) u_vl (
    .clk_i       (clk_i),
    .rst_ni      (rst_ni),
    .head_valid_i(head_valid[2]),
    .head_instr_i(head_instr[2*IA +: IA]),
    .head_frame_i(head_frame[2*FW +: FW]),
    .head_word_i (vl_head),
    .ready_i     (met[2] && vl_free),
    .fire_i      (1'b1),
    .count_i     (vl_bank),
    .dispatch_o  (advance[2]),
    .run_o       (vl_run),
    .last_o      (vl_last),
    .off_o       (vl_off),
    .instr_o     (vl_word),
    .index_o     (vl_index),
    .frame_o     (vl_frame)
  );
  assign r_we[2] = advance[2];
  assign w_we[2] = 1'b0;
{%- if p.ov.interleaved %}
  // The source's length is the banks' positions (the validator checks it).
  wire unused_vl = ^{vl_index, vl_frame, vl_word, vl_head_bank, vl_len};

  // One cycle after the read, as a block RAM would answer: into the banks
  // (lane g into bank g % {{ p.banks }}, sub-bank g / {{ p.banks }}, at position vl_off + g / {{ p.banks }}).
  reg                     vec_we_q;
  reg [{{ p.w.index - 1 }}:0] vec_waddr_q;
  reg                     vec_wbuf_q;
  reg [R*W-1:0]           vec_wdata_q;
  wire [R*W-1:0]          vec_wdata_d;
  wire [XW-1:0] vl_addr = vl_a + vl_off * {{ p.w.addr_sum }}'d{{ p.banks }};
  assign run_addr[{{ p.ov.run_vl }}*AW +: AW] = vl_addr[AW-1:0];
  wire unused_vl_addr = ^vl_addr[XW-1:AW];
  assign vec_wdata_d = run_data[{{ p.ov.run_vl }}*VB*W +: R*W];
{%- else %}
  wire unused_vl = ^{vl_index, vl_frame, vl_word, vl_head_bank};

  // One cycle after the read, as a block RAM would answer: into the banks.
  reg                     vec_we_q;
  reg [{{ p.w.index - 1 }}:0] vec_waddr_q;
  reg                     vec_wbuf_q;
  reg [K*W-1:0]           vec_wdata_q;
  wire [K*W-1:0]          vec_wdata_d;
  generate
    for (g = 0; g < K; g = g + 1) begin : g_load
      localparam [XW-1:0] G = {{ p.w.addr_sum }}'d0 + g;
      wire [XW-1:0] col  = G * vl_bank + vl_off;
      wire [XW-1:0] addr = vl_a + col;
      assign load_addr[g*AW +: AW] = addr[AW-1:0];
      wire unused_addr_bits = ^addr[XW-1:AW];
      // Columns past the matrix (the last bank's padding) read as zero.
      assign vec_wdata_d[g*W +: W] = (col < vl_len) ? load_data[g*W +: W] : {W{1'b0}};
    end
  endgenerate
{%- endif %}

  // ---- PE array ----
  wire          pe_start;
  wire          pe_running;
  wire          pe_last_cycle;
  wire          issue_valid;
  wire [{{ p.w.mat_addr - 1 }}:0] mat_addr;
  wire          first;
  wire          last;
  wire [{{ p.w.local_row - 1 }}:0] local_row;
  wire [{{ p.w.row_base - 1 }}:0] row_base;
  wire [{{ p.w.rows - 1 }}:0] pe_rows;
  wire pe_full = (buf_q[pe_next_q] == BufFull);

  bbs_pe_issue u_pe_issue (
    .clk_i        (clk_i),
    .rst_ni       (rst_ni),
    .head_valid_i (head_valid[3]),
    .head_rows_i  (pe_head{{ p.f("rows") }}),
    .head_slots_i (pe_head{{ p.f("slots") }}),
    .head_mat_i   (pe_head{{ p.f("mat") }}),
    .buf_full_i   (pe_full),
    .ready_i      (met[3]),
    .start_o      (pe_start),
    .running_o    (pe_running),
    .last_cycle_o (pe_last_cycle),
    .issue_valid_o(issue_valid),
    .mat_addr_o   (mat_addr),
    .first_o      (first),
    .last_o       (last),
    .local_row_o  (local_row),
    .row_base_o   (row_base),
    .rows_o       (pe_rows)
  );
  assign advance[3] = pe_start;
  // The PE array takes rows, slots, mat and d of its head.
  wire unused_pe_head = ^pe_head;
  assign r_we[3] = 1'b0;
  assign w_we[3] = pe_start;
  wire pe_buf_now = pe_start ? pe_next_q : pe_buf_q;

  // The destination of the word issued this cycle, delayed to its result.
  reg  [AW-1:0] pe_d_q;
  wire [AW-1:0] pe_d_now = pe_start ? pe_head{{ p.f("d") }} : pe_d_q;
  wire [AW-1:0] res_d;
  bbs_delay #(.WIDTH(AW), .DEPTH({{ p.drain_cycles }})) u_res_d (
    .clk_i (clk_i),
    .rst_ni(rst_ni),
    .d_i   (pe_d_now),
    .q_o   (res_d)
  );
  wire [XW-1:0] res_d_x = { {{ p.w.addr_sum - p.w.vaddr }}'d0, res_d };

  always @(posedge clk_i) begin
    if (!rst_ni) begin
      buf_q[0]    <= BufEmpty;
      buf_q[1]    <= BufEmpty;
      vl_next_q   <= 1'b0;
      vl_buf_q    <= 1'b0;
      pe_next_q   <= 1'b0;
      pe_buf_q    <= 1'b0;
      pe_d_q      <= {AW{1'b0}};
      vec_we_q    <= 1'b0;
      vec_waddr_q <= {{ p.w.index }}'d0;
      vec_wbuf_q  <= 1'b0;
{%- if p.ov.interleaved %}
      vec_wdata_q <= {(R*W){1'b0}};
{%- else %}
      vec_wdata_q <= {(K*W){1'b0}};
{%- endif %}
    end else begin
      if (advance[2]) begin
        buf_q[vl_next_q] <= BufLoading;
        vl_buf_q  <= vl_next_q;
        vl_next_q <= (NB > 1) ? ~vl_next_q : 1'b0;
      end
      if (vl_last) buf_q[vl_buf_q] <= BufFull;
      if (pe_start) begin
        buf_q[pe_next_q] <= BufComputing;
        pe_buf_q  <= pe_next_q;
        pe_next_q <= (NB > 1) ? ~pe_next_q : 1'b0;
      end
      if (pe_last_cycle) buf_q[pe_buf_now] <= BufEmpty;
      pe_d_q      <= pe_d_now;
      vec_we_q    <= vl_run;
      vec_waddr_q <= vl_off[{{ p.w.index - 1 }}:0];
      vec_wbuf_q  <= vl_buf_q;
      vec_wdata_q <= vec_wdata_d;
    end
  end

  wire [{{ p.w.row_base - 1 }}:0] rows_ext = { {{ p.w.row_base - p.w.rows }}'d0, pe_rows };
  wire [{{ p.pes - 1 }}:0] res_valid;
  wire [{{ p.pes * p.w.local_row - 1 }}:0] res_row;
  wire [{{ p.pes * p.w.value - 1 }}:0] res_value;
{% for pe in p.pe_list %}
  wire pe{{ pe }}_row_ok = (row_base + {{ p.w.row_base }}'d{{ pe }}) < rows_ext;
  wire pe{{ pe }}_mat_we = mat_we_i && (mat_pe_i == {{ p.w.pe_sel }}'d{{ pe }});

  bbs_pe #(
    .INIT_FILE("pe{{ pe }}_mat.hex")
  ) u_pe{{ pe }} (
    .clk_i        (clk_i),
    .rst_ni       (rst_ni),
    .mat_we_i     (pe{{ pe }}_mat_we),
    .mat_waddr_i  (mat_waddr_i),
    .mat_wdata_i  (mat_wdata_i),
    .vec_we_i     (vec_we_q),
    .vec_waddr_i  (vec_waddr_q),
    .vec_wdata_i  (vec_wdata_q),
{%- if p.ov.vbuf > 1 %}
    .vec_wbuf_i   (vec_wbuf_q),
    .issue_buf_i  (pe_buf_now),
{%- endif %}
    .issue_valid_i(issue_valid),
    .mat_addr_i   (mat_addr),
    .first_i      (first),
    .last_i       (last),
    .row_ok_i     (pe{{ pe }}_row_ok),
    .local_row_i  (local_row),
    .res_valid_o  (res_valid[{{ pe }}]),
    .res_row_o    (res_row[{{ pe }}*{{ p.w.local_row }} +: {{ p.w.local_row }}]),
    .res_value_o  (res_value[{{ pe }}*W +: W])
  );
{% endfor %}
{%- if p.ov.vbuf == 1 %}
  wire unused_vec_wbuf = vec_wbuf_q;
{%- endif %}

  // PE results (write group 1): PE g's local row j is global row j * {{ p.pes }} + g.
  generate
    for (g = 0; g < VB; g = g + 1) begin : g_res_w
      if (g < {{ p.pes }}) begin : g_pe
        localparam [XW-1:0] G = {{ p.w.addr_sum }}'d0 + g;
        wire [XW-1:0] row = { {{ p.w.addr_sum - p.w.local_row }}'d0, res_row[g*{{ p.w.local_row }} +: {{ p.w.local_row }}] };
        wire [XW-1:0] addr = res_d_x + row * {{ p.w.addr_sum }}'d{{ p.pes }} + G;
        wire unused_addr_bits = ^addr[XW-1:AW];
        assign v_we[1*VB + g] = res_valid[g];
        assign v_waddr[(1*VB + g)*AW +: AW] = addr[AW-1:0];
        assign v_wdata[(1*VB + g)*W +: W] = res_value[g*W +: W];
      end else begin : g_none
        assign v_we[1*VB + g] = 1'b0;
        assign v_waddr[(1*VB + g)*AW +: AW] = {AW{1'b0}};
        assign v_wdata[(1*VB + g)*W +: W] = {W{1'b0}};
      end
    end
  endgenerate

  // ---- Element-wise lanes: EWOP (run ports 0 and 1, write group 2){% if p.ov.act_unit %} and ACT (run port 3, write group 3){% endif %} ----
{%- for lane in p.ov.lane_units() %}
  wire          {{ lane.name }}_run;
  wire          {{ lane.name }}_last;
  wire [XW-1:0] {{ lane.name }}_off;
  wire [IW-1:0] {{ lane.name }}_word;
  wire [IA-1:0] {{ lane.name }}_index;
  wire [FW-1:0] {{ lane.name }}_frame;
  wire [XW-1:0] {{ lane.name }}_len = { {{ p.w.addr_sum - p.w.vlen }}'d0, {{ lane.name }}_word{{ p.f("len") }} };
  wire [XW-1:0] {{ lane.name }}_a = { {{ p.w.addr_sum - p.w.vaddr }}'d0, {{ lane.name }}_word{{ p.f("a") }} };
  wire [XW-1:0] {{ lane.name }}_b = { {{ p.w.addr_sum - p.w.vaddr }}'d0, {{ lane.name }}_word{{ p.f("b") }} };
  wire [XW-1:0] {{ lane.name }}_d = { {{ p.w.addr_sum - p.w.vaddr }}'d0, {{ lane.name }}_word{{ p.f("d") }} };
  wire [{{ p.w.op - 1 }}:0] {{ lane.name }}_op = {{ lane.name }}_word{{ p.f("op") }};
  wire [{{ p.w.func - 1 }}:0] {{ lane.name }}_func = {{ lane.name }}_word{{ p.f("func") }};

  bbs_unit #(.STEP({{ p.lanes }})) u_{{ lane.name }} (
    .clk_i       (clk_i),
    .rst_ni      (rst_ni),
    .head_valid_i(head_valid[{{ lane.unit }}]),
    .head_instr_i(head_instr[{{ lane.unit }}*IA +: IA]),
    .head_frame_i(head_frame[{{ lane.unit }}*FW +: FW]),
    .head_word_i ({{ lane.name }}_head),
    .ready_i     (met[{{ lane.unit }}]),
    .fire_i      (1'b1),
    .count_i     ({{ lane.name }}_len),
    .dispatch_o  (advance[{{ lane.unit }}]),
    .run_o       ({{ lane.name }}_run),
    .last_o      ({{ lane.name }}_last),
    .off_o       ({{ lane.name }}_off),
    .instr_o     ({{ lane.name }}_word),
    .index_o     ({{ lane.name }}_index),
    .frame_o     ({{ lane.name }}_frame)
  );
  assign r_we[{{ lane.unit }}] = advance[{{ lane.unit }}];
  assign w_we[{{ lane.unit }}] = advance[{{ lane.unit }}];
  wire unused_{{ lane.name }} = ^{ {{- lane.name }}_last, {{ lane.name }}_index, {{ lane.name }}_frame, {{ lane.name }}_word, {{ lane.name }}_b};

  wire [XW-1:0] {{ lane.name }}_ra = {{ lane.name }}_a + {{ lane.name }}_off;
  wire [XW-1:0] {{ lane.name }}_rb = {{ lane.name }}_b + {{ lane.name }}_off;
  wire [XW-1:0] {{ lane.name }}_dst = {{ lane.name }}_d + {{ lane.name }}_off;
  assign run_addr[{{ lane.run_a }}*AW +: AW] = {{ lane.name }}_ra[AW-1:0];
{%- if lane.run_b.is_some() %}
  assign run_addr[{{ lane.run_b.unwrap() }}*AW +: AW] = {{ lane.name }}_rb[AW-1:0];
{%- endif %}
  wire unused_{{ lane.name }}_bits = ^{ {{- lane.name }}_ra[XW-1:AW], {{ lane.name }}_rb, {{ lane.name }}_dst[XW-1:AW]};
  wire [{{ p.lanes - 1 }}:0] {{ lane.name }}_lane_ok;
  wire [{{ p.lanes - 1 }}:0] {{ lane.name }}_we;
  wire [AW-1:0] {{ lane.name }}_waddr;
  wire [{{ p.lanes * p.w.value - 1 }}:0] {{ lane.name }}_wdata;
  generate
    for (g = 0; g < {{ p.lanes }}; g = g + 1) begin : g_{{ lane.name }}_ok
      localparam [XW-1:0] G = {{ p.w.addr_sum }}'d0 + g;
      assign {{ lane.name }}_lane_ok[g] = ({{ lane.name }}_off + G) < {{ lane.name }}_len;
    end
  endgenerate

  bbs_ewop u_{{ lane.name }}_lanes (
    .clk_i    (clk_i),
    .rst_ni   (rst_ni),
    .valid_i  ({{ lane.name }}_run),
    .op_i     (({{ lane.name }}_op == OpAct) ? { {{- p.act_op_hi }}, {{ lane.name }}_func} : { {{- p.ew_op_pad }}, {{ lane.name }}_func}),
    .lane_ok_i({{ lane.name }}_lane_ok),
    .waddr_i  ({{ lane.name }}_dst[AW-1:0]),
    .a_i      (run_data[{{ lane.run_a }}*VB*W +: {{ p.lanes }}*W]),
{%- if lane.run_b.is_some() %}
    .b_i      (run_data[{{ lane.run_b.unwrap() }}*VB*W +: {{ p.lanes }}*W]),
{%- else %}
    .b_i      ({ {{- p.lanes * p.w.value }}{1'b0}}),
{%- endif %}
    .we_o     ({{ lane.name }}_we),
    .waddr_o  ({{ lane.name }}_waddr),
    .wdata_o  ({{ lane.name }}_wdata)
  );

  // The last results are written ewop.latency cycles after the last issue.
  reg [7:0] {{ lane.name }}_drain_q;
  always @(posedge clk_i) begin
    if (!rst_ni) begin
      {{ lane.name }}_drain_q <= 8'd0;
    end else if ({{ lane.name }}_run) begin
      {{ lane.name }}_drain_q <= 8'd{{ p.ew_latency }};
    end else if ({{ lane.name }}_drain_q != 8'd0) begin
      {{ lane.name }}_drain_q <= {{ lane.name }}_drain_q - 8'd1;
    end
  end

  generate
    for (g = 0; g < VB; g = g + 1) begin : g_{{ lane.name }}_w
      if (g < {{ p.lanes }}) begin : g_lane
        localparam [AW-1:0] G = {{ p.w.vaddr }}'d0 + g;
        assign v_we[{{ lane.group }}*VB + g] = {{ lane.name }}_we[g];
        assign v_waddr[({{ lane.group }}*VB + g)*AW +: AW] = {{ lane.name }}_waddr + G;
        assign v_wdata[({{ lane.group }}*VB + g)*W +: W] = {{ lane.name }}_wdata[g*W +: W];
      end else begin : g_none
        assign v_we[{{ lane.group }}*VB + g] = 1'b0;
        assign v_waddr[({{ lane.group }}*VB + g)*AW +: AW] = {AW{1'b0}};
        assign v_wdata[({{ lane.group }}*VB + g)*W +: W] = {W{1'b0}};
      end
    end
  endgenerate
{%- endfor %}

  // ---- Start and done ----
  // The PE array's results drain {{ p.drain_cycles }} cycles after its last word.
  reg [7:0] pe_drain_q;
  reg       running_q;
  reg       done_q;
  wire lists_done = &list_idle;
  // From registers only (no start can come once every list is walked), so
  // that busy_o does not depend on this cycle's start.
  wire active = in_run || out_run || vl_run || pe_running || (pe_drain_q != 8'd0)
{%- for lane in p.ov.lane_units() %}
                || {{ lane.name }}_run || ({{ lane.name }}_drain_q != 8'd0)
{%- endfor %};
  wire finish = running_q && lists_done && !active;

  always @(posedge clk_i) begin
    if (!rst_ni) begin
      pe_drain_q <= 8'd0;
      running_q  <= 1'b0;
      done_q     <= 1'b0;
    end else begin
      if (issue_valid) begin
        pe_drain_q <= 8'd{{ p.drain_cycles }};
      end else if (pe_drain_q != 8'd0) begin
        pe_drain_q <= pe_drain_q - 8'd1;
      end
      if (start) begin
        running_q <= 1'b1;
        done_q    <= 1'b0;
      end else if (finish) begin
        running_q <= 1'b0;
        done_q    <= 1'b1;
      end
    end
  end

  assign busy_o = running_q && !finish;
  assign done_o = done_q || finish;
  // PC: the instruction the EWOP lanes run last.
{%- if p.w.pc > p.ov.w_instr %}
  assign pc = { {{ p.w.pc - p.ov.w_instr }}'d0, ew_index };
{%- else %}
  assign pc = ew_index[{{ p.w.pc - 1 }}:0];
{%- endif %}

endmodule
