<div class="print-cover">
  <h1>{{ config.site_name }}</h1>
  {% if config.site_description %}<p class="print-cover__subtitle">{{ config.site_description }}</p>{% endif %}
  <p>Every figure and every number in this book was computed by the code printed next to
  it, when the book was built. The chapters are notebooks: run them on the website, in
  Google Colab, or on your computer.</p>
  {% if config.site_url %}<p>Online: <a href="{{ config.site_url }}">{{ config.site_url }}</a></p>{% endif %}
</div>
