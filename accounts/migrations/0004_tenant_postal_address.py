"""The customer address in three parts: 〒 postal code, prefecture (都道府県) and the rest. Existing one-line
addresses that start with a postal code and/or a prefecture's Japanese name are split; the others stay as they were
(in `address`, with the new fields empty). Reversing joins them again."""

from django.db import migrations, models


def split_addresses(apps, schema_editor):
    from billing_portal.common.addresses import split_address

    Tenant = apps.get_model("accounts", "Tenant")
    for tenant in Tenant.objects.exclude(address="").only("pk", "address"):
        postal_code, prefecture, rest = split_address(tenant.address)
        if postal_code or prefecture:
            Tenant.objects.filter(pk=tenant.pk).update(postal_code=postal_code, prefecture=prefecture, address=rest)


def join_addresses(apps, schema_editor):
    from billing_portal.common.addresses import format_address

    Tenant = apps.get_model("accounts", "Tenant")
    for tenant in Tenant.objects.exclude(postal_code="", prefecture=""):
        address = format_address(postal_code=tenant.postal_code, prefecture=tenant.prefecture, address=tenant.address,
                                 language="ja")
        Tenant.objects.filter(pk=tenant.pk).update(address=address[:300], postal_code="", prefecture="")


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0003_user_language'),
    ]

    operations = [
        migrations.AddField(
            model_name='tenant',
            name='postal_code',
            field=models.CharField(blank=True, help_text='e.g. 100-0005', max_length=8, verbose_name='postal code'),
        ),
        migrations.AddField(
            model_name='tenant',
            name='prefecture',
            field=models.CharField(blank=True, choices=[('01', 'Hokkaido'), ('02', 'Aomori'), ('03', 'Iwate'), ('04', 'Miyagi'), ('05', 'Akita'), ('06', 'Yamagata'), ('07', 'Fukushima'), ('08', 'Ibaraki'), ('09', 'Tochigi'), ('10', 'Gunma'), ('11', 'Saitama'), ('12', 'Chiba'), ('13', 'Tokyo'), ('14', 'Kanagawa'), ('15', 'Niigata'), ('16', 'Toyama'), ('17', 'Ishikawa'), ('18', 'Fukui'), ('19', 'Yamanashi'), ('20', 'Nagano'), ('21', 'Gifu'), ('22', 'Shizuoka'), ('23', 'Aichi'), ('24', 'Mie'), ('25', 'Shiga'), ('26', 'Kyoto'), ('27', 'Osaka'), ('28', 'Hyogo'), ('29', 'Nara'), ('30', 'Wakayama'), ('31', 'Tottori'), ('32', 'Shimane'), ('33', 'Okayama'), ('34', 'Hiroshima'), ('35', 'Yamaguchi'), ('36', 'Tokushima'), ('37', 'Kagawa'), ('38', 'Ehime'), ('39', 'Kochi'), ('40', 'Fukuoka'), ('41', 'Saga'), ('42', 'Nagasaki'), ('43', 'Kumamoto'), ('44', 'Oita'), ('45', 'Miyazaki'), ('46', 'Kagoshima'), ('47', 'Okinawa')], max_length=2, verbose_name='prefecture'),
        ),
        migrations.RunPython(split_addresses, join_addresses),
    ]
