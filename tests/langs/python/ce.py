def main(:
    print("unbalanced")
