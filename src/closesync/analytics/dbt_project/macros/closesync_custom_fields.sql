{#- Custom fields: closesync records the column it gave each custom field in `_closesync_custom_fields`
    (report slug, column, field name). The lead and opportunity models select those columns by name, so
    every custom field reaches the marts as its own named column without listing any field here. -#}

{#- [{"column": source column, "alias": name in the models}] for the custom fields of `report` that its
    table holds now. A field whose name would collide with a model's own column gets a `cf_` prefix. -#}
{% macro closesync_custom_fields(report, relation, reserved) -%}
    {% if not execute %}
        {{ return([]) }}
    {% endif %}
    {% set registry = adapter.get_relation(database=relation.database, schema=relation.schema,
                                           identifier='_closesync_custom_fields') %}
    {% if registry is none %}
        {{ return([]) }}
    {% endif %}
    {% set present = [] %}
    {% for column in adapter.get_columns_in_relation(relation) %}
        {% do present.append(column.name) %}
    {% endfor %}
    {% set listed = run_query("select " ~ adapter.quote('column') ~ " from " ~ registry
                              ~ " where report = '" ~ report ~ "' order by 1") %}
    {% set fields = [] %}
    {% for row in listed.rows %}
        {% set name = row[0] %}
        {% if name in present %}
            {% set alias = ('cf_' ~ name) if name in reserved else name %}
            {% do fields.append({"column": name, "alias": alias}) %}
        {% endif %}
    {% endfor %}
    {{ return(fields) }}
{%- endmacro %}

{#- `, prefix.field1, prefix.field2 …` (aliases), for a select list; empty without custom fields. -#}
{% macro closesync_custom_select(fields, prefix) -%}
    {%- for field in fields %}
    , {{ prefix }}.{{ adapter.quote(field.alias) }}
    {%- endfor %}
{%- endmacro %}

{#- The custom fields of the synced `leads` or `opportunities` table, with the model column names that a
    field must not take (they are the columns of stg_close__leads/opportunities and close_leads/opportunities). -#}
{% macro closesync_fields_of(report) -%}
    {% set reserved = [
        'lead_id', 'lead_name', 'description', 'lead_status_id', 'status_id', 'status_label', 'status_type',
        'created_at', 'updated_at', 'created_by', 'contact_count', 'opportunity_count', 'open_opportunity_value',
        'last_status_change_at', 'days_in_current_status', 'opportunity_id', 'contact_id', 'user_id',
        'user_name', 'opportunity_status_id', 'pipeline_id', 'pipeline_name', 'value', 'value_currency',
        'value_period', 'confidence', 'expected_value', 'annualized_value', 'date_won', 'date_lost',
        'days_to_close', '_closesync_row'] %}
    {{ return(closesync_custom_fields(report, source('closesync', report), reserved)) }}
{%- endmacro %}
