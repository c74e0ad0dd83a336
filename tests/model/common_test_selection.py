"""Which of transformers' common model tests each position scheme runs, and why the others are skipped
(test_transformers_common.py builds one test class per scheme from this)."""

from posenc_hf.model.positions_posenc import POSITION_EMBEDDINGS

NOT_MULTIMODAL = "Text-only model: no get_text/image/audio/video_features or multimodal outputs"
DOES_NOT_APPLY = {  # reason: names (or name beginnings) of tests that would pass here without checking anything
    "No generative model class: it checks that a generative model's head wraps a base model": (
        "test_model_base_model_prefix",
    ),
    "Encoder-only: forward takes no key/value cache": ("test_bc_cache_name_forward",),
    NOT_MULTIMODAL: (
        "test_multimodal_outputs_are_returned",
        "test_get_text_features_",
        "test_get_image_features_",
        "test_get_audio_features_",
        "test_get_video_features_",
    ),
}

PER_SCHEME = (  # the tests that read what the scheme computes, or the parameters and buffers it adds
    "test_config",
    "test_model",
    "test_for_sequence_classification",
    "test_for_masked_lm",
    "test_attention_outputs",
    "test_hidden_states_output",
    "test_retain_grad_hidden_states_attentions",
    "test_batching_equivalence",
    "test_determinism",
    "test_model_outputs_equivalence",
    "test_inputs_embeds",
    "test_inputs_embeds_matches_input_ids",
    "test_save_load",
    "test_torch_save_load",
    "test_can_init_all_missing_weights",
    "test_init_weights_can_init_buffers",
    "test_can_be_initialized_on_meta",
    "test_all_tensors_are_parameter_or_buffer",
    "test_from_pretrained_no_checkpoint",
    "test_correct_missing_keys",
    "test_can_load_with_device_context_manager",
    "test_can_load_with_global_device_set",
    "test_training",
    "test_training_gradient_checkpointing",
    "test_training_gradient_checkpointing_use_reentrant_false",
    "test_training_gradient_checkpointing_use_reentrant_true",
    "test_resize_position_vector_embeddings",
    "test_flex_attention_with_grads",  # these three need an accelerator, and skip themselves without one
    "test_torch_compile_for_training",
    "test_sdpa_can_compile_dynamic",
)
PER_SCHEME_FAMILIES = ("test_eager_matches_sdpa_inference_", "test_model_rope_")

SAME_FOR_EVERY_SCHEME = {  # reason: names (or name beginnings) of the tests that run for learned only
    "loads, places, casts or ties weights as it does any tensor, whichever scheme holds it (the init and save/load "
    "tests run per scheme)": (
        "test_load_",
        "test_can_load_",
        "test_cannot_load_",
        "test_can_use_safetensors",
        "test_base_model_prefix_loads_base_weights",
        "test_model_weights_reload_no_missing_tied_weights",
        "test_save_load_keys_to_ignore_on_save",
        "test_reverse_loading_mapping",
        "test_tied_weights",
        "test_bc_torch_dtype",
        "test_keep_in_fp32",
        "test_cpu_offload",
        "test_disk_offload",
        "test_model_parallelism",
        "test_tp_plan",
    ),
    "picks the attention function, before any position reaches it (eager and SDPA are compared per scheme)": (
        "test_can_set_attention_dynamically",
        "test_config_attn_implementation_setter",
        "test_attn_implementation_composite_models",
        "test_sdpa_can_dispatch",
        "test_flash_attn_",
        "test_kernels",
        "test_eager_matches_batched_and_grouped_inference",
    ),
    "reads the token embeddings and their tied decoder only": (
        "test_resize_tokens_embeddings",
        "test_resize_embeddings_untied",
        "test_model_get_set_embeddings",
        "test_enable_input_require_grads",
    ),
    "checks class attributes, flags, losses or output plumbing, which no position field changes": (
        "test_model_is_small",
        "test_num_layers_is_small",
        "test_model_main_input_name",
        "test_internal_model_config_and_subconfig_are_same",
        "test_format_of_can_record_outputs",
        "test_capture_outputs_decorator",
        "test_can_capture_specific_layers_hidden_states",
        "test_model_forward_default_config_values",
        "test_gradient_checkpointing_",
        "test_peft_gradient_checkpointing",
        "test_generation_tester_mixin_inheritance",
        "test_problem_types",
        "test_feed_forward_chunking",
        "test_causal_lm_loss_honors_shift_labels",
        "test_encoder_decoder_loss_no_double_shift",
    ),
}


def skip_reason(kind, name, full):
    """Why the test `name` does not run for the scheme `kind` (`full`: its class runs every common test),
    or None when it runs."""
    for reason, names in DOES_NOT_APPLY.items():
        if name.startswith(names):
            return reason
    if name.startswith("test_model_rope_") and kind != "rotary":
        return f"No RoPE in {kind}: rope_parameters configure position_embedding_type='rotary' only"
    if name == "test_resize_position_vector_embeddings" and not POSITION_EMBEDDINGS[kind].has_table:
        return f"No position table in {kind}: resizing only records max_position_embeddings (test_schemes.py)"
    if full or name in PER_SCHEME or name.startswith(PER_SCHEME_FAMILIES):
        return None
    for reason, names in SAME_FOR_EVERY_SCHEME.items():
        if name.startswith(names):
            return f"Same for every scheme (run for learned): it {reason}"
    return None  # a test a newer transformers adds runs for every scheme until it is sorted here
