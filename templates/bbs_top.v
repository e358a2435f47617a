{% include "header.v" %}
//
// The accelerator: the sequencer and its instruction buffer (bbs_seq), the
// register block (bbs_regs), the vector memory (bbs_vmem), the PE array's
// controller (bbs_ctrl) and {{ p.pes }} PE(s) (bbs_pe), and the EWOP/ACT unit (bbs_ewop).
//
// Host interface:
//   reg_*       the register block: NINSTR, then write 1 to CTRL to start; poll
//               STATUS or wait for done_o.
//   imem_*      write the instruction buffer (or preload it from IMEM_INIT).
//   mat_*       write word mat_waddr_i of PE mat_pe_i's matrix memory (or
//               preload every PE from pe<p>_mat.hex).
//   s_axis_*    AXI4-Stream, host to accelerator: the data of `load`
//               instructions, {{ p.beat_el }} element(s) per beat, element i in bytes
//               [{{ p.w.elem_bytes }}i, {{ p.w.elem_bytes }}i + {{ p.w.elem_bytes }}) (low {{ p.w.value }} bits used).
//   m_axis_*    AXI4-Stream, accelerator to host: the data of `store`
//               instructions, same packing (sign-extended), tkeep per byte,
//               tlast on the last beat of each store.
// The vector memory's initial contents (biases, initial states) come from
// vmem_b<b>.hex, one file per bank (bbs_vmem), or from `load`s.

module bbs_top #(
  parameter IMEM_INIT = "program.hex"
) (
  input  wire                                    clk_i,
  input  wire                                    rst_ni,
  output wire                                    busy_o,
  output wire                                    done_o,
  // Register block.
  input  wire                                    reg_we_i,
  input  wire [{{ p.w.reg_addr - 1 }}:0]                              reg_addr_i,
  input  wire [31:0]                             reg_wdata_i,
  output wire [31:0]                             reg_rdata_o,
  // Instruction buffer load.
  input  wire                                    imem_we_i,
  input  wire [{{ p.w.imem_addr - 1 }}:0]        imem_waddr_i,
  input  wire [{{ p.w.instr - 1 }}:0]            imem_wdata_i,
  // Matrix load at run time.
  input  wire                                    mat_we_i,
  input  wire [{{ p.w.pe_sel - 1 }}:0]           mat_pe_i,
  input  wire [{{ p.w.mat_addr - 1 }}:0]         mat_waddr_i,
  input  wire [{{ p.w.mat_word - 1 }}:0]         mat_wdata_i,
  // AXI4-Stream in.
  input  wire                                    s_axis_tvalid_i,
  output wire                                    s_axis_tready_o,
  input  wire [{{ p.w.beat - 1 }}:0]             s_axis_tdata_i,
  input  wire                                    s_axis_tlast_i,
  // AXI4-Stream out.
  output wire                                    m_axis_tvalid_o,
  input  wire                                    m_axis_tready_i,
  output wire [{{ p.w.beat - 1 }}:0]             m_axis_tdata_o,
  output wire [{{ p.w.beat_bytes - 1 }}:0]         m_axis_tkeep_o,
  output wire                                    m_axis_tlast_o
);

  localparam integer W = {{ p.w.value }};
  localparam integer AW = {{ p.w.vaddr }};
  localparam integer XW = {{ p.w.addr_sum }};
  localparam integer NA = {{ p.vm.ports_a }};
  localparam integer NB = {{ p.vm.ports_b }};
  localparam integer NW = {{ p.vm.ports_w }};
  {{ p.top_ops }}

  // ---- Register block and sequencer ----
  wire start;
  wire [{{ p.w.pc - 1 }}:0] n_instr;
  wire [{{ p.w.pc - 1 }}:0] pc;
  wire [{{ p.w.op - 1 }}:0] op;
  wire [{{ p.w.func - 1 }}:0] func;
  wire [AW-1:0] a_base;
  wire [AW-1:0] b_base;
  wire [AW-1:0] d_base;
  wire [{{ p.w.vlen - 1 }}:0] len;
  wire [{{ p.w.rows - 1 }}:0] rows;
  wire [{{ p.w.slots - 1 }}:0] slots;
  wire [{{ p.w.vec_words - 1 }}:0] bank_size;
  wire [{{ p.w.mat_addr - 1 }}:0] mat_base;
  wire spmv_start;
  wire spmv_last;
  wire ew_issue;
  wire [{{ p.w.off - 1 }}:0] ew_off;
  wire [{{ p.w.off - 1 }}:0] dma_off;

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
    .n_instr_o  (n_instr)
  );

  bbs_seq #(
    .INIT_FILE(IMEM_INIT)
  ) u_seq (
    .clk_i          (clk_i),
    .rst_ni         (rst_ni),
    .start_i        (start),
    .n_instr_i      (n_instr),
    .busy_o         (busy_o),
    .done_o         (done_o),
    .pc_o           (pc),
    .imem_we_i      (imem_we_i),
    .imem_waddr_i   (imem_waddr_i),
    .imem_wdata_i   (imem_wdata_i),
    .op_o           (op),
    .func_o         (func),
    .a_o            (a_base),
    .b_o            (b_base),
    .d_o            (d_base),
    .len_o          (len),
    .rows_o         (rows),
    .slots_o        (slots),
    .bank_o         (bank_size),
    .mat_o          (mat_base),
    .spmv_start_o   (spmv_start),
    .spmv_last_i    (spmv_last),
    .ew_issue_o     (ew_issue),
    .ew_off_o       (ew_off),
    .s_axis_tready_o(s_axis_tready_o),
    .s_axis_tvalid_i(s_axis_tvalid_i),
    .m_axis_tvalid_o(m_axis_tvalid_o),
    .m_axis_tready_i(m_axis_tready_i),
    .m_axis_tlast_o (m_axis_tlast_o),
    .dma_off_o      (dma_off)
  );

  // The length field and the offsets, widened for address arithmetic.
  wire [XW-1:0] len_x    = { {{ p.w.addr_sum - p.w.vlen }}'d0, len };
  wire [XW-1:0] a_x      = { {{ p.w.addr_sum - p.w.vaddr }}'d0, a_base };
  wire [XW-1:0] b_x      = { {{ p.w.addr_sum - p.w.vaddr }}'d0, b_base };
  wire [XW-1:0] d_x      = { {{ p.w.addr_sum - p.w.vaddr }}'d0, d_base };
  wire [XW-1:0] ew_off_x = { {{ p.w.addr_sum - p.w.off }}'d0, ew_off };
  wire [XW-1:0] dma_off_x = { {{ p.w.addr_sum - p.w.off }}'d0, dma_off };
  wire [XW-1:0] bank_x   = { {{ p.w.addr_sum - p.w.vec_words }}'d0, bank_size };
  // tlast is informational: the instruction's length says where a load ends.
  // Each element uses the low {{ p.w.value }} bits of its {{ p.w.elem_bytes }} byte(s).
  wire unused_tlast = s_axis_tlast_i;
  wire unused_tdata = ^s_axis_tdata_i;

  // ---- PE array controller ----
  wire [{{ p.w.index - 1 }}:0] vec_raddr;
  wire                         pe_vec_we;
  wire [{{ p.w.index - 1 }}:0] pe_vec_waddr;
  wire                         issue_valid;
  wire [{{ p.w.mat_addr - 1 }}:0] mat_addr;
  wire                         first;
  wire                         last;
  wire [{{ p.w.local_row - 1 }}:0] local_row;
  wire [{{ p.w.row_base - 1 }}:0] row_base;
  wire                         spmv_busy;
  wire                         spmv_done;

  bbs_ctrl u_ctrl (
    .clk_i        (clk_i),
    .rst_ni       (rst_ni),
    .start_i      (spmv_start),
    .busy_o       (spmv_busy),
    .done_o       (spmv_done),
    .rows_i       (rows),
    .slots_i      (slots),
    .vec_words_i  (bank_size),
    .mat_base_i   (mat_base),
    .last_cycle_o (spmv_last),
    .vec_raddr_o  (vec_raddr),
    .vec_we_o     (pe_vec_we),
    .vec_waddr_o  (pe_vec_waddr),
    .issue_valid_o(issue_valid),
    .mat_addr_o   (mat_addr),
    .first_o      (first),
    .last_o       (last),
    .local_row_o  (local_row),
    .row_base_o   (row_base)
  );
  wire unused_spmv_status = spmv_busy ^ spmv_done;

  // ---- Vector memory ports ----
  wire [NA*AW-1:0] a_addr;
  wire [NA*W-1:0]  a_data;
  wire [NB*AW-1:0] b_addr;
  wire [NB*W-1:0]  b_data;
  wire [NW-1:0]    v_we;
  wire [NW*AW-1:0] v_waddr;
  wire [NW*W-1:0]  v_wdata;

  bbs_vmem u_vmem (
    .clk_i   (clk_i),
    .a_run_i (op != OpSpmv),
    .a_addr_i(a_addr),
    .a_data_o(a_data),
    .b_addr_i(b_addr),
    .b_data_o(b_data),
    .we_i    (v_we),
    .waddr_i (v_waddr),
    .wdata_i (v_wdata)
  );

  wire [XW-1:0] raddr_x = { {{ p.w.addr_sum - p.w.index }}'d0, vec_raddr };
  wire is_ew = (op == OpEwop) || (op == OpAct);
  // One cycle after the read, as a block RAM would answer: the SpMxV vector
  // load writes these into every PE's private banks (bbs_ctrl delays vec_we).
  reg [{{ p.banks * p.w.value - 1 }}:0] vec_wdata_q;
  wire [{{ p.banks * p.w.value - 1 }}:0] vec_wdata_d;

  genvar g;
  generate
    // A ports: SpMxV load (bank g's element at vec_raddr), EWOP/ACT a, store.
    for (g = 0; g < NA; g = g + 1) begin : g_a
      localparam [XW-1:0] G = {{ p.w.addr_sum }}'d0 + g;
      wire [XW-1:0] col     = G * bank_x + raddr_x;
      wire [XW-1:0] spmv_a  = a_x + col;
      wire [XW-1:0] ew_a    = a_x + ew_off_x + G;
      wire [XW-1:0] dma_a   = a_x + dma_off_x + G;
      wire [XW-1:0] addr    = (op == OpSpmv) ? spmv_a : is_ew ? ew_a : dma_a;
      assign a_addr[g*AW +: AW] = addr[AW-1:0];
      wire unused_addr_bits = ^addr[XW-1:AW];
      if (g < {{ p.banks }}) begin : g_load
        // Columns past the matrix (the last bank's padding) read as zero.
        assign vec_wdata_d[g*W +: W] = (col < len_x) ? a_data[g*W +: W] : {W{1'b0}};
      end
      if (g < {{ p.beat_el }}) begin : g_out
        wire keep = (dma_off_x + G) < len_x;
        assign m_axis_tdata_o[g*{{ p.w.elem_bytes * 8 }} +: {{ p.w.elem_bytes * 8 }}] =
{%- if p.w.elem_bytes * 8 > p.w.value %}
          { { {{ p.w.elem_bytes * 8 - p.w.value }}{a_data[g*W + W - 1]} }, a_data[g*W +: W] };
{%- else %}
          a_data[g*W +: W];
{%- endif %}
        assign m_axis_tkeep_o[g*{{ p.w.elem_bytes }} +: {{ p.w.elem_bytes }}] = {{ "{" }}{{ p.w.elem_bytes }}{keep}};
      end
    end
    // B ports: EWOP b.
    for (g = 0; g < NB; g = g + 1) begin : g_b
      localparam [XW-1:0] G = {{ p.w.addr_sum }}'d0 + g;
      wire [XW-1:0] addr = b_x + ew_off_x + G;
      assign b_addr[g*AW +: AW] = addr[AW-1:0];
      wire unused_addr_bits = ^addr[XW-1:AW];
    end
  endgenerate

  always @(posedge clk_i) begin
    if (!rst_ni) begin
      vec_wdata_q <= {{ p.banks * p.w.value }}'d0;
    end else begin
      vec_wdata_q <= vec_wdata_d;
    end
  end

  // ---- PEs ----
  wire [{{ p.w.row_base - 1 }}:0] rows_ext = { {{ p.w.row_base - p.w.rows }}'d0, rows };
  wire [{{ p.pes - 1 }}:0] res_valid;
  wire [{{ p.pes * p.w.local_row - 1 }}:0] res_row;
  wire [{{ p.pes * p.w.value - 1 }}:0] res_value;
{% for pe in p.pe_list %}
  // PE {{ pe }}: global rows {{ pe }}, {{ pe }} + {{ p.pes }}, ...
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
    .vec_we_i     (pe_vec_we),
    .vec_waddr_i  (pe_vec_waddr),
    .vec_wdata_i  (vec_wdata_q),
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
  // ---- EWOP/ACT ----
  wire [{{ p.lanes - 1 }}:0] ew_lane_ok;
  wire [{{ p.lanes - 1 }}:0] ew_we;
  wire [AW-1:0] ew_waddr;
  wire [{{ p.lanes * p.w.value - 1 }}:0] ew_wdata;
  wire [XW-1:0] ew_dst = d_x + ew_off_x;
  wire unused_ew_dst_bits = ^ew_dst[XW-1:AW];

  generate
    for (g = 0; g < {{ p.lanes }}; g = g + 1) begin : g_lane_ok
      localparam [XW-1:0] G = {{ p.w.addr_sum }}'d0 + g;
      assign ew_lane_ok[g] = (ew_off_x + G) < len_x;
    end
  endgenerate

  bbs_ewop u_ewop (
    .clk_i    (clk_i),
    .rst_ni   (rst_ni),
    .valid_i  (ew_issue),
    .op_i     ((op == OpAct) ? { {{- p.act_op_hi }}, func} : { {{- p.ew_op_pad }}, func}),
    .lane_ok_i(ew_lane_ok),
    .waddr_i  (ew_dst[AW-1:0]),
    .a_i      (a_data[{{ p.lanes * p.w.value - 1 }}:0]),
    .b_i      (b_data),
    .we_o     (ew_we),
    .waddr_o  (ew_waddr),
    .wdata_o  (ew_wdata)
  );

  // ---- Vector memory writes: PE results, EWOP/ACT results, loads ----
  wire in_fire = s_axis_tvalid_i && s_axis_tready_o;

  generate
    for (g = 0; g < NW; g = g + 1) begin : g_w
      localparam [XW-1:0] G = {{ p.w.addr_sum }}'d0 + g;
      reg           we;
      reg  [XW-1:0] addr;
      reg  [W-1:0]  data;
      always @(*) begin
        we   = 1'b0;
        addr = {XW{1'b0}};
        data = {W{1'b0}};
        case (op)
          OpSpmv: begin
            if (g < {{ p.pes }}) begin
              we   = res_valid[g % {{ p.pes }}];
              addr = d_x + { {{ p.w.addr_sum - p.w.local_row }}'d0, res_row[(g % {{ p.pes }})*{{ p.w.local_row }} +: {{ p.w.local_row }}] } * {{ p.w.addr_sum }}'d{{ p.pes }} + G;
              data = res_value[(g % {{ p.pes }})*W +: W];
            end
          end
          OpEwop, OpAct: begin
            if (g < {{ p.lanes }}) begin
              we   = ew_we[g % {{ p.lanes }}];
              addr = { {{ p.w.addr_sum - p.w.vaddr }}'d0, ew_waddr } + G;
              data = ew_wdata[(g % {{ p.lanes }})*W +: W];
            end
          end
          OpLoad: begin
            if (g < {{ p.beat_el }}) begin
              we   = in_fire && ((dma_off_x + G) < len_x);
              addr = d_x + dma_off_x + G;
              data = s_axis_tdata_i[(g % {{ p.beat_el }})*{{ p.w.elem_bytes * 8 }} +: W];
            end
          end
          default: ;
        endcase
      end
      assign v_we[g] = we;
      assign v_waddr[g*AW +: AW] = addr[AW-1:0];
      assign v_wdata[g*W +: W] = data;
      wire unused_addr_bits = ^addr[XW-1:AW];
    end
  endgenerate

endmodule
